"""The demo product's fixed facts: channels, content categories, audience, daily rhythm.

Kept as data, apart from the simulation, so the story the demo tells (which channel is
good, when people use the app) is readable in one place and tuned without touching code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Channel:
    """An acquisition channel and how the persons it brings tend to behave."""

    key: str
    label: str
    share: float  # share of organic (non-referral) signups
    activation: float  # probability a new person activates (views content)
    lifetime_days: float  # mean days until churn (per-person hazard = 1 / lifetime)
    engagement: float  # multiplier on daily activity probability
    paying: float  # probability an activated person ever pays
    utm_source: str
    referrer: str
    web_landing: bool  # True: lands on the H5 page first; False: installs the app directly
    visitors_per_signup: float  # anonymous visitors who bounce, per signup


CHANNELS: tuple[Channel, ...] = (
    Channel("app_store", "应用商店", 0.30, 0.64, 60, 1.05, 0.060, "app_store", "$direct",
            False, 0.3),
    Channel("douyin", "抖音广告", 0.27, 0.36, 16, 0.80, 0.022, "douyin",
            "https://www.douyin.com/", True, 2.2),
    Channel("xiaohongshu", "小红书", 0.15, 0.56, 45, 1.00, 0.050, "xiaohongshu",
            "https://www.xiaohongshu.com/", True, 1.2),
    Channel("seo", "搜索引擎", 0.13, 0.46, 30, 0.90, 0.040, "baidu",
            "https://www.baidu.com/", True, 1.8),
    Channel("offline", "地推", 0.15, 0.28, 9, 0.70, 0.010, "offline", "$direct", False, 0.1),
)  # fmt: skip

# Persons brought by another person's share or invite: the best-retaining channels.
REFERRAL_CHANNELS: tuple[Channel, ...] = (
    Channel("wechat_share", "微信分享", 0.0, 0.60, 50, 1.05, 0.050, "wechat",
            "https://mp.weixin.qq.com/", True, 0.0),
    Channel("referral", "好友邀请", 0.0, 0.70, 65, 1.10, 0.065, "invite",
            "https://mp.weixin.qq.com/", True, 0.0),
)  # fmt: skip

ALL_CHANNELS: tuple[Channel, ...] = CHANNELS + REFERRAL_CHANNELS
WECHAT_SHARE = len(CHANNELS)  # index into ALL_CHANNELS
REFERRAL = len(CHANNELS) + 1

CATEGORIES = ("美食", "旅行", "穿搭", "美妆", "数码", "游戏", "宠物", "健身", "家居", "职场")
CATEGORY_WEIGHTS = np.array([14, 11, 12, 11, 9, 10, 9, 8, 8, 8], dtype=float)

CITIES = (
    *("上海", "北京", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆"),
    *("长沙", "苏州", "郑州", "天津", "青岛", "厦门", "昆明", "沈阳", "合肥", "佛山"),
)
CITY_WEIGHTS = np.array([12, 11, 8, 8, 7, 7, 5, 5, 4, 5, 4, 4, 4, 3, 3, 2, 2, 2, 2, 2], dtype=float)
GENDERS = ("女", "男", "未知")
GENDER_WEIGHTS = np.array([57, 39, 4], dtype=float)
AGE_BANDS = ("<18", "18-24", "25-30", "31-40", "41+")
AGE_WEIGHTS = np.array([5, 34, 31, 21, 9], dtype=float)
DEVICES = ("iOS", "Android")
SIGNUP_METHODS = ("phone", "wechat", "apple")
SHARE_TARGETS = ("wechat_session", "wechat_moments", "weibo", "qq")
SHARE_TARGET_WEIGHTS = np.array([55, 25, 12, 8], dtype=float)

# (product, price in CNY, weight)
PRODUCTS = (
    ("会员月卡", 25.0, 40),
    ("会员季卡", 68.0, 14),
    ("会员年卡", 198.0, 6),
    ("金币包·小", 6.0, 25),
    ("金币包·中", 30.0, 11),
    ("金币包·大", 98.0, 4),
)

PAGES = ("/feed", "/discover", "/me", "/messages", "/topic")
PAGE_WEIGHTS = np.array([50, 22, 12, 10, 6], dtype=float)
APP_ORIGIN = "https://m.yunying-demo.cn"

# Share of sessions starting in each local hour: a short morning commute peak, lunch, and
# the long evening peak that content communities live on.
HOURLY = np.array(
    [2.2, 1.3, 0.7, 0.4, 0.3, 0.4, 1.0, 2.4, 3.4, 3.0, 2.8, 3.2,
     4.6, 4.3, 3.0, 2.8, 3.0, 3.4, 4.1, 5.2, 6.3, 7.1, 6.4, 4.2],
    dtype=float,
)  # fmt: skip
# Activity multiplier per ISO weekday (Monday first): weekends peak.
WEEKDAY = np.array([0.94, 0.92, 0.93, 0.96, 1.04, 1.24, 1.20])


def normalised(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()
