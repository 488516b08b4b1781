-- .route files are routec policies.
vim.filetype.add({ extension = { route = "route" } })
