import type { LocalChipEngine } from '../generation/engine.js';
import type { JobRepository } from '../jobs/repository.js';
import { echoProcess } from './echo.js';
import { generateProcess } from './generate.js';
import type { ProcessDefinition } from './types.js';

/** The processes this instance offers: echo always; terramind-generate where a model package (and so the chip engine) is loaded. */
export function availableProcesses(deps: { engine?: LocalChipEngine; repository: JobRepository; maxChips: number; blockSize: 256 | 512 }): ProcessDefinition[] {
  const processes = [echoProcess];
  if (deps.engine) processes.push(generateProcess({ engine: deps.engine, repository: deps.repository, maxChips: deps.maxChips, blockSize: deps.blockSize }));
  return processes;
}
