"""OWSLib (Debian's python3-owslib 0.27) against the service: the common documents through its OGC API classes,
tilesets through its generic request, and one tile through owslib.util.openURL (0.27 has no Tiles class).

Usage: owslib_check.py BASE_URL COLLECTION_ID TILE_PATH
Prints one JSON line with what OWSLib read.
"""
import json
import sys

from owslib.ogcapi import Collections
from owslib.util import openURL


def main() -> int:
    base, collection_id, tile_path = sys.argv[1], sys.argv[2], sys.argv[3]
    service = Collections(base)
    api = service.api()
    conformance = service.conformance()
    collections = service.collections()
    collection = service.collection(collection_id)
    tilesets = service._request(path=f"collections/{collection_id}/map/tiles")
    tileset = service._request(path=f"collections/{collection_id}/map/tiles/WebMercatorQuad")
    tile = openURL(f"{base.rstrip('/')}/{tile_path.lstrip('/')}").read()
    print(json.dumps({
        "title": service.links and service.response.get("title"),
        "openapi": api.get("openapi"),
        "conformsTo": conformance["conformsTo"],
        "collectionIds": [c["id"] for c in collections["collections"]],
        "collection": {"id": collection["id"], "bbox": collection["extent"]["spatial"]["bbox"][0]},
        "tilesets": [t["tileMatrixSetId"] for t in tilesets["tilesets"]],
        "itemTypes": [link["type"] for link in tileset["links"] if link["rel"] == "item"],
        "tile": {"bytes": len(tile), "png": tile[:8] == b"\x89PNG\r\n\x1a\n"},
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
