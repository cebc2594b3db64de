import os
import sys

EXPORTER = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(os.path.dirname(EXPORTER))
if EXPORTER not in sys.path:
    sys.path.insert(0, EXPORTER)
