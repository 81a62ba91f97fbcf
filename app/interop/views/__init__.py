"""The blueprints of the open interfaces, one module per standard."""

from app.interop.views import files, ogc, open311, ops

BLUEPRINTS = (ogc.bp, open311.bp, files.exports_bp, files.apidoc_bp, ops.bp)
