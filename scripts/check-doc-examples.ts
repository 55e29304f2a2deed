/**
 * @module scripts/check-doc-examples
 *
 * Type-checks every ```ts block of README.md and docs/*.md against the built package (`dist`, as a
 * consumer imports it), so that an example cannot drift from the API. Each block becomes a module
 * of its own in `.tmp/doc-examples/`; names the package exports that a block uses without
 * importing them are imported for it (the guides show the import once per page, not per block), and
 * the placeholders the guides leave to the reader — the node's `logger`, its `seed`, its PoST
 * service — are declared once in `scripts/doc-examples/placeholders.d.ts`. Errors are reported at
 * the guide's own file and line.
 *
 * ```sh
 * npm run build && node --import tsx scripts/check-doc-examples.ts
 * ```
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");
const out = join(root, ".tmp", "doc-examples");

/** One fenced block: where it is and its text. */
interface Example {
  doc: string;
  /** Line of the first line of code in the guide (1-based). */
  line: number;
  code: string;
}

function examplesOf(doc: string): Example[] {
  const lines = readFileSync(join(root, doc), "utf8").split("\n");
  const found: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ts\s*$/.test(lines[i] ?? "")) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end] ?? "")) end++;
    found.push({ doc, line: start + 1, code: lines.slice(start, end).join("\n") });
    i = end;
  }
  return found;
}

/** The local names of a `{ a, type b, c as d }` list. */
function listedNames(list: string): string[] {
  const names: string[] = [];
  for (const part of list.split(",")) {
    const name = part
      .trim()
      .split(/\s+as\s+/)
      .pop()
      ?.replace(/^type\s+/, "");
    if (name) names.push(name);
  }
  return names;
}

/** The names an entry point's declaration file exports (`export { a, b as c }` lists). */
function exportedNames(declarationFile: string): string[] {
  const text = readFileSync(join(root, declarationFile), "utf8");
  const names: string[] = [];
  for (const m of text.matchAll(/export (?:type )?\{([^}]*)\}/g)) {
    names.push(...listedNames(m[1] ?? ""));
  }
  return names;
}

/** Names a block declares or imports itself. */
function declaredNames(code: string): Set<string> {
  const names = new Set<string>();
  for (const m of code.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const name of listedNames(m[1] ?? "")) names.add(name);
  }
  for (const m of code.matchAll(
    /\b(?:const|let|var|function|class|type|interface|enum|using)\s+([A-Za-z_$][\w$]*)/g,
  )) {
    names.add(m[1] as string);
  }
  for (const m of code.matchAll(/\b(?:const|let|var)\s+\{([^}]*)\}/g)) {
    for (const part of (m[1] ?? "").split(",")) {
      const name = part.split(":").pop()?.trim().split(/\s*=/)[0];
      if (name) names.add(name);
    }
  }
  return names;
}

const docs = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];
const examples = docs.flatMap(examplesOf);
const entryPoints: [string, string[]][] = [
  ["spacemesh-poet-client", exportedNames("dist/index.d.ts")],
  ["spacemesh-poet-client/testing", exportedNames("dist/testing/index.d.ts")],
];

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
copyFileSync(join(root, "scripts/doc-examples/placeholders.d.ts"), join(out, "placeholders.d.ts"));
const files: { file: string; example: Example; offset: number }[] = [];
examples.forEach((example, n) => {
  const declared = declaredNames(example.code);
  const used = new Set(example.code.match(/\b[A-Za-z_$][\w$]*\b/g) ?? []);
  const taken = new Set(declared);
  const header: string[] = [];
  for (const [specifier, names] of entryPoints) {
    const wanted = names.filter((name) => used.has(name) && !taken.has(name));
    for (const name of wanted) taken.add(name);
    if (wanted.length > 0) header.push(`import { ${wanted.join(", ")} } from "${specifier}";`);
  }
  header.push("export {};");
  const file = `${example.doc.replace(/[/.]/g, "_")}_${n}.ts`;
  writeFileSync(join(out, file), `${header.join("\n")}\n${example.code}\n`);
  files.push({ file, example, offset: header.length });
});
writeFileSync(
  join(out, "tsconfig.json"),
  JSON.stringify(
    {
      compilerOptions: {
        target: "ES2022",
        lib: ["ES2023", "DOM", "ESNext.Disposable"],
        module: "nodenext",
        moduleResolution: "nodenext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ["node"],
        typeRoots: [join(root, "node_modules/@types")],
      },
      files: ["placeholders.d.ts", ...files.map((f) => f.file)],
    },
    null,
    2,
  ),
);

let output = "";
try {
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", out], {
    encoding: "utf8",
    stdio: "pipe",
  });
} catch (err) {
  output = `${(err as { stdout?: string }).stdout ?? ""}${(err as { stderr?: string }).stderr ?? ""}`;
  if (output === "") throw err;
}
// Errors are reported at the guide's line: `docs/embedding.md:23:5 error TS2304: …`.
const errors = output
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => {
    const m = /^(.+?\.ts)\((\d+),(\d+)\): (.*)$/.exec(line);
    const at = m === null ? undefined : files.find((f) => (m[1] ?? "").endsWith(f.file));
    if (m === null || at === undefined) return line;
    const docLine = at.example.line + Number(m[2]) - at.offset - 1;
    return `${at.example.doc}:${docLine}:${m[3]} ${m[4]}`;
  });
if (errors.length > 0) {
  process.stderr.write(`${errors.join("\n")}\n`);
  process.stderr.write(
    `check-doc-examples: ${errors.length} error line(s) in ${examples.length} examples\n`,
  );
  process.exit(1);
}
console.log(`check-doc-examples: ${examples.length} examples from ${docs.length} files type-check`);
