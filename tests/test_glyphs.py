"""The table of characters a lualatex document's fonts have (renderers/glyphs.py), against the fonts themselves."""

import shutil
import subprocess

import pytest

from derivchain.renderers.glyphs import RANGES, has_glyph

FONTS = ("Latin Modern Roman:style=10 Regular", "DejaVu Serif:style=Book", "WenQuanYi Micro Hei")


def _code_points(charset: str) -> set[int]:
    out = set()
    for part in charset.split():
        first, _, last = part.partition("-")
        out.update(range(int(first, 16), int(last or first, 16) + 1))
    return out


def test_letters_beyond_latin_have_glyphs_and_emoji_or_marks_do_not():
    assert all(has_glyph(c) for c in "éαΩάПривет中文日本語한국어カタカナ，")
    assert not any(has_glyph(c) for c in "😀ب\u0301\u200b\u202eअ")  # emoji, Arabic, a combining accent, controls, Devanagari
    assert RANGES.split() == sorted(RANGES.split(), key=lambda p: int(p.split("-")[0], 16))  # bisect needs the order


@pytest.mark.skipif(not shutil.which("fc-match") or "WenQuanYi" not in subprocess.run(
    ["fc-match", "WenQuanYi Micro Hei"], capture_output=True, text=True).stdout, reason="fonts-wqy-microhei not installed")
def test_every_character_of_the_table_is_in_one_of_the_fonts():
    covered = set()
    for font in FONTS:
        path = subprocess.run(["fc-match", "-f", "%{file}", font], capture_output=True, text=True, check=True).stdout
        charset = subprocess.run(["fc-query", "-i", "0", "-f", "%{charset}", path], capture_output=True, text=True, check=True).stdout
        covered |= _code_points(charset)
    table = _code_points(RANGES)
    assert table - covered == set(), sorted(map(hex, table - covered))[:20]
    assert {ord(c) for c in "中文αβγПривет"} <= table
