import { echoProcess } from './echo.js';
import type { ProcessDefinition } from './types.js';

/** The processes this instance offers: echo always; terramind-generate where a model package is loaded. */
export function availableProcesses(_deps: object): ProcessDefinition[] {
  return [echoProcess];
}
