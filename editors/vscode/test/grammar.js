// Tokenizes every shipped policy (rules/, examples/) with the TextMate grammar, as VS Code
// does, and checks what each kind of token is coloured as. Run: npm install && npm test.
const fs = require("fs");
const path = require("path");
const vsctm = require("vscode-textmate");
const oniguruma = require("vscode-oniguruma");

const root = path.resolve(__dirname, "../../..");
const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm")).buffer;

function policies(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return policies(p);
    return p.endsWith(".route") ? [p] : [];
  });
}

async function main() {
  await oniguruma.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (s) => new oniguruma.OnigScanner(s),
      createOnigString: (s) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async () =>
      vsctm.parseRawGrammar(
        fs.readFileSync(path.join(__dirname, "../syntaxes/route.tmLanguage.json"), "utf8"),
        "route.tmLanguage.json"
      ),
  });
  const grammar = await registry.loadGrammar("source.route");
  const files = [...policies(path.join(root, "rules")), ...policies(path.join(root, "examples"))];
  const expect = { comment: 0, keyword: 0, string: 0, name: 0 };
  let failures = 0;
  for (const file of files) {
    let state = vsctm.INITIAL;
    fs.readFileSync(file, "utf8").split("\n").forEach((line, n) => {
      const result = grammar.tokenizeLine(line, state);
      state = result.ruleStack;
      for (const t of result.tokens) {
        const text = line.slice(t.startIndex, t.endIndex);
        const scopes = t.scopes.join(" ");
        const fail = (why) => {
          failures++;
          console.error(`${path.relative(root, file)}:${n + 1}: \`${text}\` ${why} (${scopes})`);
        };
        if (text.startsWith("#") && !scopes.includes("string")) {
          expect.comment++;
          if (!scopes.includes("comment.line")) fail("is not a comment");
        } else if (/^(rule|when|otherwise|team|agent)$/.test(text) && !scopes.match(/comment|string/)) {
          expect.keyword++;
          if (!scopes.includes("keyword")) fail("is not a keyword");
        } else if (text.startsWith("\"") && !scopes.includes("comment")) {
          expect.string++;
          if (!scopes.includes("string.quoted")) fail("is not a string");
        } else if (scopes.includes("entity.name.route")) {
          expect.name++;
        }
      }
    });
  }
  console.log(`${files.length} policies: ${JSON.stringify(expect)} tokens checked, ${failures} wrong`);
  if (failures > 0 || files.length < 10 || Object.values(expect).some((n) => n === 0)) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
