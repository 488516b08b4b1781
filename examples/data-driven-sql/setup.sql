-- The example's customer table, made afresh each run (the same callers as data/crm.json of
-- examples/data-driven).
set client_min_messages = warning;
drop schema if exists routec_example cascade;
create schema routec_example;
create table routec_example.customers (
  phone text primary key,
  language text,
  severity text,
  ticket_agent text,
  order_status text,
  payment_overdue boolean
);
insert into routec_example.customers values
  ('+919845000001', 'ta', 'low', 'meena', null, null),
  ('+919845000002', 'en', 'critical', null, null, null),
  ('+919845000003', 'hi', null, null, null, true),
  ('+919845000004', 'es', null, null, 'shipped', null),
  ('+919845000005', 'es', null, null, null, null);
