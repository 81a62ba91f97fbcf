"""HTML to PDF with WeasyPrint, in the CJK fonts the set-up installs (bulletins, meeting packs, situation reports)."""

from __future__ import annotations

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration

# Debian's fonts-noto-cjk and fonts-wqy-zenhei (scripts/system-deps.sh); the first one found is used.
CJK_FONTS = '"Noto Sans CJK SC", "Noto Sans CJK", "WenQuanYi Zen Hei", sans-serif'

BASE_CSS = f"""
@page {{ size: A4; margin: 18mm 16mm 20mm 16mm;
        @bottom-center {{ content: counter(page) " / " counter(pages); font-size: 9pt; color: #555; }} }}
html {{ font-family: {CJK_FONTS}; font-size: 10.5pt; line-height: 1.5; color: #111; }}
h1 {{ font-size: 18pt; margin: 0 0 6mm; }}
h2 {{ font-size: 13pt; margin: 6mm 0 3mm; border-bottom: 1px solid #999; }}
table {{ border-collapse: collapse; width: 100%; margin: 2mm 0 4mm; }}
th, td {{ border: 1px solid #bbb; padding: 1.2mm 2mm; text-align: left; vertical-align: top; }}
th {{ background: #eee; }}
td.num, th.num {{ text-align: right; }}
img {{ max-width: 100%; }}
"""


def render_pdf(html: str, *, base_url: str | None = None, css: str = "") -> bytes:
    """The PDF of one HTML document (images as data: URIs or under base_url), with the CJK fonts and A4 pages."""
    fonts = FontConfiguration()
    sheets = [CSS(string=BASE_CSS, font_config=fonts)]
    if css:
        sheets.append(CSS(string=css, font_config=fonts))
    document = HTML(string=html, base_url=base_url)
    return document.write_pdf(stylesheets=sheets, font_config=fonts)
