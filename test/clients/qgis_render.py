"""Render one layer with headless QGIS (Debian's qgis + python3-qgis) to a PNG, as a user's map would show it.

Usage: qgis_render.py xyz|gdal URI OUT.png WEST SOUTH EAST NORTH [WIDTH HEIGHT]
  xyz:  URI is an XYZ template ({z}/{y}/{x}); the extent is in EPSG:4326 and the map in EPSG:3857.
  gdal: URI is a GDAL dataset name (e.g. OGCAPI:http://...); the map is in the layer's CRS.
Prints one JSON line: {"valid": bool, "crs": "...", "width": n, "height": n, "error": "..."}.
"""
import json
import os
import sys
from urllib.parse import quote

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsCoordinateTransform,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor  # noqa: E402


def main() -> int:
    kind, uri, out = sys.argv[1], sys.argv[2], sys.argv[3]
    west, south, east, north = (float(v) for v in sys.argv[4:8])
    width, height = (int(v) for v in sys.argv[8:10]) if len(sys.argv) >= 10 else (512, 512)
    app = QgsApplication([], False)
    app.setPrefixPath("/usr", True)
    app.initQgis()
    try:
        if kind == "xyz":
            # The url value is percent-encoded inside the provider URI ('?', '=' and '&' of the template included).
            layer = QgsRasterLayer(f"type=xyz&url={quote(uri, safe=':/{}')}&zmin=0&zmax=18", "xyz", "wms")
        else:
            layer = QgsRasterLayer(uri, "gdal", "gdal")
        if not layer.isValid():
            print(json.dumps({"valid": False, "error": layer.error().summary()}))
            return 1
        wgs84 = QgsCoordinateReferenceSystem("EPSG:4326")
        crs = QgsCoordinateReferenceSystem("EPSG:3857") if kind == "xyz" else layer.crs()
        extent = QgsCoordinateTransform(wgs84, crs, QgsProject.instance()).transformBoundingBox(QgsRectangle(west, south, east, north))
        settings = QgsMapSettings()
        settings.setLayers([layer])
        settings.setDestinationCrs(crs)
        settings.setExtent(extent)
        settings.setOutputSize(QSize(width, height))
        settings.setBackgroundColor(QColor(255, 0, 255))
        job = QgsMapRendererSequentialJob(settings)
        job.start()
        job.waitForFinished()
        image = job.renderedImage()
        image.save(out, "PNG")
        errors = [f"{e.layerID}: {e.message}" for e in job.errors()]
        print(json.dumps({"valid": True, "crs": crs.authid(), "width": image.width(), "height": image.height(), "error": "; ".join(errors)}), flush=True)
        # Layers must go before the application: a GDAL layer alive at exitQgis() crashes QGIS 3.22 on exit.
        del job, settings, layer
        return 0
    finally:
        app.exitQgis()


if __name__ == "__main__":
    sys.exit(main())
