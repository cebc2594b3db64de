import type { LocalChipEngine } from '../generation/engine.js';
import { echoProcess } from './echo.js';
import { generateProcess, type GenerateProcessOptions } from './generate.js';
import type { ProcessDefinition } from './types.js';

/** The processes this instance offers: echo always; terramind-generate where a model package (and so the chip engine) is loaded. */
export function availableProcesses(deps: Omit<GenerateProcessOptions, 'engine'> & { engine?: LocalChipEngine }): ProcessDefinition[] {
  const processes = [echoProcess];
  if (deps.engine) processes.push(generateProcess({ ...deps, engine: deps.engine }));
  return processes;
}
