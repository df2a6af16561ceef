"""A seeded synthetic content community (发帖/评论/分享/签到/会员) to explore Yunying with.

``generate_demo`` writes the events as a Parquet file; ``load_demo`` also imports it
through the same path as ``yunying import``.
"""

from yunying.demo.generate import DemoSummary, generate_demo
from yunying.demo.load import demo_file, load_demo

__all__ = ["DemoSummary", "demo_file", "generate_demo", "load_demo"]
