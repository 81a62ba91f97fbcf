"""The PDF helper writes Chinese text that a PDF reader gets back as the same characters."""

import io

from pypdf import PdfReader

from app.pdf import render_pdf


def test_chinese_text_survives_the_round_trip():
    pdf = render_pdf("<h1>南汇新城镇月度绩效考核通报</h1><table><tr><th>部门</th><td class=num>98.5%</td></tr></table>")
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "南汇新城镇月度绩效考核通报" in text
    assert "98.5%" in text
    assert "1 / 1" in text
