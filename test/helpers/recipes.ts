import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/**
 * The recipes of README.md and docs/api.md as the tests run them: every line of every ```sh block is a command,
 * and each ```xml block is a GDAL_WMS file. Commands run with bash (pipefail) in a scratch folder that links the
 * repository's files (so `npm run generate -- --input test/fixtures/...` works), with `localhost:8080` pointed
 * at the test server, `BASE`/`ITEM` given by the test (their assignment lines in the docs are skipped), and curl
 * failing on HTTP errors (a `.curlrc` with `fail`), so a recipe that answers 4xx/5xx fails its test.
 */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const GENERATED_MARK = '<!-- recipe: needs generated collections';

export interface Recipe {
  file: string;
  section: string;
  language: 'sh' | 'xml';
  text: string;
  needsGenerated: boolean;
}

export function recipesOf(file: string): Recipe[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const recipes: Recipe[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i].startsWith('## ')) section = lines[i].slice(3).trim();
    const open = /^```(sh|xml)\s*$/.exec(lines[i]);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !lines[j].startsWith('```'); j += 1) body.push(lines[j]);
    const needsGenerated = lines.slice(Math.max(0, i - 2), i).some((line) => line.startsWith(GENERATED_MARK));
    recipes.push({ file, section, language: open[1] as 'sh' | 'xml', text: body.join('\n'), needsGenerated });
    i = j;
  }
  return recipes;
}

/** The commands of an sh recipe: one per line, without comments, blank lines and assignments the test provides. */
export function commandsOf(recipe: Recipe, provided: string[]): string[] {
  return recipe.text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .filter((line) => !provided.some((name) => line.startsWith(`${name}=`)));
}

const SCRATCH_LINKS = ['package.json', 'node_modules', 'src', 'models', 'test', 'config', 'tsconfig.json', '.npmrc'];

export class RecipeRunner {
  readonly dir = mkdtempSync(join(tmpdir(), 'tmogc-recipes-'));

  constructor(
    private readonly base: string,
    private readonly env: Record<string, string> = {},
  ) {
    for (const name of SCRATCH_LINKS) symlinkSync(join(ROOT, name), join(this.dir, name));
    writeFileSync(join(this.dir, '.curlrc'), 'fail\n');
  }

  /** Runs one documented command; resolves with its stdout, rejects with its stderr. */
  async run(command: string, timeoutMs = 180_000): Promise<string> {
    const line = command.replaceAll('http://localhost:8080', this.base);
    const { stdout } = await promisify(execFile)('bash', ['-o', 'pipefail', '-c', line], {
      cwd: this.dir,
      timeout: timeoutMs,
      maxBuffer: 16 << 20,
      env: { ...process.env, CURL_HOME: this.dir, BASE: this.base, ...this.env },
    });
    return stdout;
  }

  /** An xml recipe written to a file in the scratch folder (for gdalinfo). */
  writeXml(recipe: Recipe, name: string): string {
    const path = join(this.dir, name);
    writeFileSync(path, recipe.text.replaceAll('http://localhost:8080', this.base));
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
