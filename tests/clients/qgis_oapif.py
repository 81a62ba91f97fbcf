"""Run by Debian's python3 with QGIS (not the project's venv): load OGC API - Features layers the way a
QGIS user does, with a Basic authentication configuration, and print what QGIS saw as JSON.

    python3 qgis_oapif.py URL USER TOKEN LAYER [SUBSET [XMIN,YMIN,XMAX,YMAX]]
"""

import json
import os
import sys
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
home = tempfile.mkdtemp(prefix="qgis-home-")
os.environ["QGIS_AUTH_DB_DIR_PATH"] = home

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsAuthMethodConfig,
    QgsFeatureRequest,
    QgsRectangle,
    QgsVectorLayer,
)

url, user, token, layer_name = sys.argv[1:5]
subset = sys.argv[5] if len(sys.argv) > 5 else ""
rect = [float(v) for v in sys.argv[6].split(",")] if len(sys.argv) > 6 else None
QgsApplication.setPrefixPath("/usr", True)
app = QgsApplication([], False)
app.initQgis()
auth = QgsApplication.authManager()
auth.setMasterPassword("qgis-test-master", True)
config = QgsAuthMethodConfig("Basic")  # Settings > Options > Authentication > Basic
config.setName("nanhui")
config.setConfig("username", user)
config.setConfig("password", token)
assert auth.storeAuthenticationConfig(config)[0]
layer = QgsVectorLayer(f"url='{url}' typename='{layer_name}' authcfg={config.id()}", layer_name, "OAPIF")
out = {"valid": layer.isValid(), "error": layer.error().summary() if not layer.isValid() else ""}
if layer.isValid():
    if subset:
        out["subset_accepted"] = layer.setSubsetString(subset)
    request = QgsFeatureRequest()
    if rect:
        request.setFilterRect(QgsRectangle(*rect))  # what panning the map does
    features = list(layer.getFeatures(request))
    out["count"] = len(features)
    out["crs"] = layer.crs().authid()
    out["fields"] = [f.name() for f in layer.fields()]
    key = "code" if "code" in out["fields"] else None
    out["codes"] = sorted(str(f[key]) for f in features) if key else []
print(json.dumps(out, ensure_ascii=False), flush=True)
del layer
# QGIS 3.22 may crash while tearing down its providers at exit; what was seen is printed already.
os._exit(0)
