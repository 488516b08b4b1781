// Starts `routec lsp` for .route files: diagnostics, hovers, go to definition, references,
// rename, completion, the outline and formatting come from the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("routec").get("path") || "routec";
  client = new LanguageClient(
    "routec",
    "routec",
    { command, args: ["lsp"] },
    { documentSelector: [{ scheme: "file", language: "route" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
