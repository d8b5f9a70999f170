"""Fictitious Chinese names and obviously fake phone numbers for the sample registers.

Names are drawn from common surnames and given-name characters with a seeded generator;
phone numbers follow ``138-0000-NNNN`` (a number block never issued to subscribers in
this form), numbered in order so every one is unique and clearly fake.
"""

from __future__ import annotations

import random

__all__ = ["FakePeople"]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍鹏辉玲建国红梅海燕晨宇浩然欣怡子涵思远雨桐"


class FakePeople:
    """Deterministic source of fictitious people (name, phone).

    Examples
    --------
    >>> p = FakePeople(1)
    >>> p.phone(), p.phone()
    ('138-0000-0001', '138-0000-0002')
    """

    def __init__(self, seed: int):
        self.rng = random.Random(seed)
        self._next_phone = 0

    def name(self) -> str:
        """Return a fictitious full name (surname + one or two given-name characters)."""
        given = "".join(self.rng.choice(GIVEN) for _ in range(self.rng.choice((1, 2, 2))))
        return self.rng.choice(SURNAMES) + given

    def phone(self) -> str:
        """Return the next fake phone number ``138-0000-NNNN``."""
        self._next_phone += 1
        if self._next_phone > 9999:
            raise ValueError("more than 9999 fake phone numbers requested")
        return f"138-0000-{self._next_phone:04d}"
