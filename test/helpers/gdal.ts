import { execFileSync } from 'node:child_process';

/** Whether Debian's gdal-bin is installed (CI installs it); GDAL-client tests skip without it. */
export const hasGdal = (() => {
  try {
    execFileSync('gdalinfo', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();
