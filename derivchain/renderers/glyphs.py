"""Which characters a LuaLaTeX document's fonts have a glyph for (see renderers/document.py).

A document whose text holds letters beyond Latin (Greek, Cyrillic, CJK) is compiled with lualatex: Latin
Modern (TeX's own font) with DejaVu Serif (fonts-dejavu-core) and WenQuanYi Micro Hei
(fonts-wqy-microhei) behind it. A character none of them has (an emoji, Arabic, Devanagari) is written as
its code point, ``[U+1F600]``, so that it is said, not lost. The table is the union of the three fonts'
character maps (``fc-query --format '%{charset}'``), cut to left-to-right scripts and signs that read as
text (no combining marks, controls or emoji); tests/test_glyphs.py checks it against the installed fonts.
"""

from __future__ import annotations

from bisect import bisect_right

#: Code points (hexadecimal, ``first-last`` or one) with a glyph in Latin Modern, DejaVu Serif or WenQuanYi Micro Hei.
RANGES = (
    "a1-ac ae-2cd 2d0-2d3 2d6-2de 2e0-2e9 2ec 2ee-2f0 2f3 2f7 370-377 37a-37f 384-38a 38c 38e-3a1 3a3-3e1 3f0-486 "
    "488-515 51a-51d 531-556 559-55f 561-587 589-58a 10a0-10c5 10d0-10fc 1e00-1efb 1f00-1f15 1f18-1f1d 1f20-1f45 "
    "1f48-1f4d 1f50-1f57 1f59 1f5b 1f5d 1f5f-1f7d 1f80-1fb4 1fb6-1fc4 1fc6-1fd3 1fd6-1fdb 1fdd-1fef 1ff2-1ff4 "
    "1ff6-1ffe 2010-2027 2030-2040 2042 2044-2049 204b-204f 2051-2054 2057 20a0-20a9 20ab-20b5 20b8-20ba 20bd "
    "2102-2103 2105 2109 210d-210f 2111 2113 2115-211a 211c-211e 2120-2122 2124 2126-2127 212a-212b 212e "
    "2132-2133 2135 213c-2149 214b 214e 2150-2185 2189 2190-2200 2202-2209 220b-220c 220f-2215 2217-2220 "
    "2222-222e 2234-223d 2242-2243 2245 2248 224c 2250-2255 2260-2261 2264-2267 226a-226b 226e-226f 2282-2287 "
    "228c-22af 22bf 22c4-22c5 2460-24b5 24d0-24e9 25a0-25ff 3001-3003 3005-3017 301d-301f 3021-3029 3041-3094 "
    "3099-309e 30a1-30f6 30fb-30fe 3105-3129 3131-318e 3200-321c 3220-3229 3231-3232 3239 3260-327b 327f "
    "32a3-32a8 3303 330d 3314 3318 3322-3323 3326-3327 332b 3336 333b 3349-334a 334d 3351 3357 337b-337e "
    "3380-3384 3388-33ca 33cd-33d3 33d5-33d6 33d8 33db-33dd 4d00 4db5 4e00-9fc3 ac00-d7a3 f900-fa2d fe30-fe31 "
    "fe33-fe44 fe49-fe4f ff01-ff5e ff61-ff9f ffe0-ffe6 "
)
_STARTS = [int(part.split("-")[0], 16) for part in RANGES.split()]
_ENDS = [int(part.split("-")[-1], 16) for part in RANGES.split()]


def has_glyph(c: str) -> bool:
    """True when the character ``c`` (beyond ASCII) has a glyph in a LuaLaTeX document's fonts."""
    i = bisect_right(_STARTS, ord(c)) - 1
    return i >= 0 and ord(c) <= _ENDS[i]
