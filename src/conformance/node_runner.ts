/*
 * Node-only part of the conformance runner (node_*.ts by the layering rule): find the .data files
 * under a folder and run them. Everything else in src/conformance is browser-safe.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import type { ConformanceEngine } from './engine.js';
import { type ConformanceOutcome, runConformanceText } from './runner.js';

/** Every .data file under dir (recursively), sorted by path. */
export async function findDataFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    const entries = await readdir(d, { withFileTypes: true });
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && e.name.endsWith('.data')) out.push(p);
    }
  };
  await walk(dir);
  return out.sort();
}

/**
 * Run every .data file under dir (or the one file dir names); file names in the outcomes are
 * relative to dir (to the file's folder for a single file).
 */
export async function runConformanceDir(dir: string, engine?: ConformanceEngine): Promise<ConformanceOutcome[]> {
  const single = (await stat(dir)).isFile();
  const files = single ? [dir] : await findDataFiles(dir);
  const base = single ? dirname(dir) : dir;
  const outcomes: ConformanceOutcome[] = [];
  for (const path of files) {
    const text = await readFile(path, 'utf8');
    // the full path decides the kind (a `negative` folder); the report shows it relative to dir
    const outcome = runConformanceText(text, path, engine);
    outcomes.push({ ...outcome, file: relative(base, path) || path });
  }
  return outcomes;
}
