"""OWSLib as a client of OGC API - Processes: list, describe, execute sync and async, poll, download results.

Debian 12's OWSLib (0.27) has Processes.processes() and .process() but no execute(); the execute POST goes
through OWSLib's own HTTP helper (owslib.util.http_post) and polling and downloads through Processes._request
and owslib.util.http_get, so every request is made by OWSLib code. Prints one JSON summary on stdout.

usage: owslib_processes.py BASE_URL PROCESS_ID INPUTS_JSON OUT_DIR
"""
import json
import os
import sys
import time

from owslib.ogcapi.processes import Processes
from owslib.util import http_get, http_post

base, process_id, inputs, out_dir = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
client = Processes(base)
summary = {
    "conformsTo": client.conformance()["conformsTo"],
    "processes": [p["id"] for p in client.processes()["processes"]],
}
description = client.process(process_id)
summary["inputs"] = list(description["inputs"].keys())
summary["outputs"] = list(description["outputs"].keys())
execution = f"{base}/processes/{process_id}/execution"
request = {"inputs": inputs, "response": "document"}

sync = http_post(execution, request=request, headers={"Prefer": "respond-sync"})
summary["sync"] = {"status": sync.status_code, "body": sync.json()}

started = http_post(execution, request=request, headers={"Prefer": "respond-async"})
location = started.headers["Location"]
job_id = location.rstrip("/").split("/")[-1]
seen = [started.json()["status"]]
deadline = time.time() + 300
while True:
    status = client._request(path=f"jobs/{job_id}")
    if status["status"] != seen[-1]:
        seen.append(status["status"])
    if status["status"] in ("successful", "failed", "dismissed") or time.time() > deadline:
        break
    time.sleep(0.2)
summary["async"] = {"status": started.status_code, "location": location, "seen": seen, "progress": status.get("progress")}
results = client._request(path=f"jobs/{job_id}/results")
summary["results"] = results
downloads = {}
for output, value in results.items():
    if isinstance(value, dict) and "href" in value:
        response = http_get(value["href"])
        path = os.path.join(out_dir, f"{output}.bin")
        with open(path, "wb") as handle:
            handle.write(response.content)
        downloads[output] = {"path": path, "bytes": len(response.content), "type": response.headers.get("Content-Type")}
summary["downloads"] = downloads
print(json.dumps(summary))
