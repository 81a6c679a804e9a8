"""The static ASV site, made to work offline.

``asv publish`` writes pages that load jQuery, flot and bootstrap from CDNs, so
on a machine without internet (this project's CI, a laptop on a plane) no
graph renders. :func:`vendor` copies the same libraries, shipped in
``mlxbench/report/site_assets``, next to the pages and points the pages at them.
Subresource-integrity attributes go with the CDN address: they pin the CDN's
bytes, and the npm builds of the same versions differ in minification.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "site_assets"
VENDOR_DIR = "vendor"

CDN_FILES = {
    "https://code.jquery.com/jquery-3.3.1.min.js": "jquery-3.3.1.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": "jquery.flot.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": "jquery.flot.time.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": "jquery.flot.selection.js",
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": "jquery.flot.categories.js",
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": "jquery.flot.orderBars.js",
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": "stupidtable.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": "md5.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": "bootstrap.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": "bootstrap.min.css",
}
_TAG = re.compile(r'<(script|link)\b[^>]*?(?:src|href)="(?P<url>https?://[^"]+)"[^>]*>')


def _local_tag(match: re.Match[str]) -> str:
    url = match["url"]
    if url not in CDN_FILES:
        return match[0]
    local = f"{VENDOR_DIR}/{CDN_FILES[url]}"
    if match[1] == "script":
        return f'<script type="text/javascript" src="{local}">'
    return f'<link rel="stylesheet" href="{local}">'


def vendor(html_dir: Path) -> list[str]:
    """Copy the libraries into ``html_dir/vendor`` and rewrite every page; returns the CDN addresses left."""
    html_dir = Path(html_dir)
    target = html_dir / VENDOR_DIR
    target.mkdir(exist_ok=True)
    for name in set(CDN_FILES.values()):
        shutil.copyfile(ASSETS / name, target / name)
    left: set[str] = set()
    for page in html_dir.glob("*.html"):
        text = _TAG.sub(_local_tag, page.read_text())
        page.write_text(text)
        left.update(m["url"] for m in _TAG.finditer(text))
    return sorted(left)


def publish(root: Path, html_dir: Path) -> int:
    """``asv publish`` in ``root``, then :func:`vendor`; returns asv's exit status."""
    code = subprocess.call([str(Path(sys.executable).with_name("asv")), "publish"], cwd=root)
    if code == 0:
        left = vendor(html_dir)
        if left:
            print("still loaded from the network: " + ", ".join(left), file=sys.stderr)
    return code
