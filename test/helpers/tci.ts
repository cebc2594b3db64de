import proj4 from 'proj4';
import { fromFile } from 'geotiff';
import { FIXTURES } from './fixture-server.js';

/** The TCI fixture's own colour at lon/lat (nearest pixel, read with geotiff.js): the oracle for client renders. */
const UTM34 = '+proj=utm +zone=34 +datum=WGS84 +units=m +no_defs';

export async function tciColour(lon: number, lat: number): Promise<number[]> {
  const image = await (await fromFile(`${FIXTURES}cog/titiler/TCI.tif`)).getImage();
  const [x, y] = proj4('EPSG:4326', UTM34, [lon, lat]);
  const [ox, oy] = image.getOrigin();
  const [rx, ry] = image.getResolution();
  const col = Math.floor((x - ox) / rx);
  const row = Math.floor((y - oy) / ry);
  const bands = (await image.readRasters({ window: [col, row, col + 1, row + 1] })) as unknown as Uint8Array[];
  return [bands[0][0], bands[1][0], bands[2][0]];
}
