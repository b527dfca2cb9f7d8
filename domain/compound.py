"""The simulated compound's base data (units, people, buildings, rooms, devices).

One seeded model shared by the simulators (who does what where) and the warehouse's
dimension tables (what the ids mean), so both always agree. Sizes follow DOMAIN.md.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
COMPOUND_SURNAMES = ["欧阳", "司马", "上官", "诸葛"]
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国红志文斌宇浩凯鹏辉丹玲晨雪琳颖瑞博宁欣悦思嘉子"
    "轩梓涵一诺雨萱俊峰海燕春梅立新永庆"
)

UNIT_NAMES = [
    ("发展改革委", "Development and Reform"), ("财政厅", "Finance"), ("教育厅", "Education"),
    ("科技厅", "Science and Technology"), ("工业和信息化厅", "Industry and IT"), ("公安厅", "Public Security"),
    ("民政厅", "Civil Affairs"), ("司法厅", "Justice"), ("人力资源社会保障厅", "Human Resources"),
    ("自然资源厅", "Natural Resources"), ("生态环境厅", "Ecology and Environment"), ("住房城乡建设厅", "Housing"),
    ("交通运输厅", "Transport"), ("水利厅", "Water Resources"), ("农业农村厅", "Agriculture"),
    ("商务厅", "Commerce"), ("文化和旅游厅", "Culture and Tourism"), ("卫生健康委", "Health"),
    ("退役军人事务厅", "Veterans Affairs"), ("应急管理厅", "Emergency Management"), ("审计厅", "Audit"),
    ("外事办", "Foreign Affairs"), ("国资委", "State Assets"), ("市场监管局", "Market Regulation"),
    ("广电局", "Radio and TV"), ("体育局", "Sport"), ("统计局", "Statistics"), ("医保局", "Medical Security"),
    ("机关事务管理局", "Government Offices Administration"), ("信访局", "Letters and Calls"),
    ("粮食和储备局", "Grain Reserves"), ("林业局", "Forestry"), ("能源局", "Energy"),
    ("地方金融管理局", "Finance Regulation"), ("大数据局", "Big Data"), ("乡村振兴局", "Rural Revitalisation"),
    ("档案局", "Archives"), ("地方志办", "Local Chronicles"), ("参事室", "Counsellors"), ("研究室", "Research Office"),
]

# Usable office area standard per person, m² (党政机关办公用房建设标准 2014, provincial organs).
RANK_AREA_M2 = {
    "省部级正职": 54, "省部级副职": 42, "正厅级": 30, "副厅级": 24,
    "正处级": 18, "副处级": 12, "处级以下": 9,
}
RANK_WEIGHTS = {"正厅级": 1, "副厅级": 3, "正处级": 8, "副处级": 12, "处级以下": 76}

# A fictional compound; coordinates only place it on a local outline map.
ORIGIN_LAT, ORIGIN_LON = 36.6512, 117.1201


@dataclass(frozen=True)
class Building:
    id: str
    name: str
    floors: int
    area_m2: float
    quota_kwh_m2_year: float
    lat: float
    lon: float


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    name_en: str
    building_id: str


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    unit_id: str
    rank: str
    card_no: str
    phone: str
    id_card: str
    gender: str
    eats_lunch_p: float


@dataclass(frozen=True)
class Room:
    id: str
    building_id: str
    floor: int
    area_m2: float
    kind: str


@dataclass(frozen=True)
class Vehicle:
    id: str
    plate: str
    kind: str
    unit_id: str
    seats: int
    fuel_l_per_100km: float


@dataclass(frozen=True)
class Meter:
    id: str
    building_id: str
    floor: int
    kind: str  # electricity | water | gas | solar


@dataclass(frozen=True)
class Gate:
    id: str
    name: str
    kind: str  # person | vehicle
    lat: float
    lon: float


@dataclass(frozen=True)
class Camera:
    id: str
    building_id: str
    floor: int
    zone: str
    kind: str  # video | thermal | fence | kitchen


@dataclass(frozen=True)
class CanteenWindow:
    id: str
    canteen_id: str
    name: str


@dataclass(frozen=True)
class Canteen:
    id: str
    name: str
    building_id: str
    windows: tuple[CanteenWindow, ...]


@dataclass(frozen=True)
class Child:
    id: str
    name: str
    class_id: str
    guardian_ids: tuple[str, ...]


@dataclass
class Compound:
    seed: int
    buildings: list[Building] = field(default_factory=list)
    units: list[Unit] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    rooms: list[Room] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    cameras: list[Camera] = field(default_factory=list)
    canteens: list[Canteen] = field(default_factory=list)
    kg_classes: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)

    @property
    def windows(self) -> list[CanteenWindow]:
        return [w for c in self.canteens for w in c.windows]


def chinese_name(rng: random.Random) -> str:
    """A plausible Chinese name: mostly single surnames, a few compound ones."""
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(SURNAMES)
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def fake_id_card(rng: random.Random) -> str:
    """A fake 18-character resident ID card number drawn from `rng`: a Jinan, Beijing or Nanjing area
    code, a birth date in 1962-2001, a sequence number and a valid GB 11643 check digit (0-9 or X).

    For staff and simulated visitors alike, so masking and validation see realistic numbers."""
    body = f"{rng.choice((110101, 370102, 370103, 370112, 320102))}{rng.randint(1962, 2001)}" \
           f"{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    return body + check


def build_compound(seed: int = 7, staff: int = 3000) -> Compound:
    """The whole compound, identical for the same seed and size."""
    rng = random.Random(seed)
    c = Compound(seed=seed)
    for b in range(10):
        floors = rng.randint(8, 20)
        c.buildings.append(Building(
            id=f"B{b + 1:02d}", name=f"{b + 1}号楼", floors=floors,
            area_m2=float(floors * rng.randint(1400, 2200)),
            quota_kwh_m2_year=float(rng.choice((60, 70, 80, 90))),
            lat=ORIGIN_LAT + (b // 5) * 0.0016, lon=ORIGIN_LON + (b % 5) * 0.0018,
        ))
    for i, (zh, en) in enumerate(UNIT_NAMES):
        c.units.append(Unit(id=f"U{i + 1:02d}", name=zh, name_en=en, building_id=c.buildings[i % 10].id))
    ranks, weights = zip(*RANK_WEIGHTS.items())
    for p in range(staff):
        big = min(int(rng.paretovariate(1.6)) - 1, len(c.units) - 1)
        unit = c.units[big if rng.random() < 0.3 else p % len(c.units)]
        c.people.append(Person(
            id=f"P{p + 1:05d}", name=chinese_name(rng), unit_id=unit.id,
            rank=rng.choices(ranks, weights)[0], card_no=f"{rng.randint(10**9, 10**10 - 1)}",
            phone=f"1{rng.choice('3456789')}{rng.randint(0, 10**9 - 1):09d}", id_card=fake_id_card(rng),
            gender=rng.choice("男女"), eats_lunch_p=min(0.98, max(0.2, rng.gauss(0.72, 0.15))),
        ))
    for b in c.buildings:
        for f in range(1, b.floors + 1):
            for r in range(rng.randint(10, 12)):
                kind = "office" if r > 0 else rng.choice(("meeting", "office"))
                c.rooms.append(Room(id=f"{b.id}-{f:02d}{r + 1:02d}", building_id=b.id, floor=f,
                                    area_m2=float(rng.choice((9, 12, 12, 18, 18, 24, 30, 36, 45))), kind=kind))
            c.meters.append(Meter(id=f"M-{b.id}-F{f:02d}-E", building_id=b.id, floor=f, kind="electricity"))
            c.meters.append(Meter(id=f"M-{b.id}-F{f:02d}-W", building_id=b.id, floor=f, kind="water"))
            if f % 2 == 1:
                c.meters.append(Meter(id=f"M-{b.id}-F{f:02d}-H", building_id=b.id, floor=f, kind="electricity"))
        c.meters.append(Meter(id=f"M-{b.id}-G", building_id=b.id, floor=1, kind="gas"))
        c.meters.append(Meter(id=f"M-{b.id}-S", building_id=b.id, floor=b.floors, kind="solar"))
        for k in range(20):
            c.cameras.append(Camera(id=f"C-{b.id}-{k + 1:02d}", building_id=b.id, floor=1 + k % b.floors,
                                    zone=rng.choice(("大厅", "走廊", "楼梯间", "机房", "出入口", "停车场")),
                                    kind="thermal" if k == 19 else "video"))
    letters = "ABCDEFGHJK"
    for v in range(60):
        c.vehicles.append(Vehicle(id=f"V{v + 1:03d}", plate=f"鲁A{letters[v % 10]}{rng.randint(1000, 9999)}",
                                  kind=rng.choice(("轿车", "轿车", "商务车", "越野车", "中巴")),
                                  unit_id=c.units[v % len(c.units)].id, seats=rng.choice((5, 5, 7, 19)),
                                  fuel_l_per_100km=round(rng.uniform(7.5, 13.0), 1)))
    for g in range(30):
        c.gates.append(Gate(id=f"GP{g + 1:02d}", name=f"人行闸机{g + 1}", kind="person",
                            lat=ORIGIN_LAT - 0.0004 + (g % 3) * 0.0012, lon=ORIGIN_LON - 0.0006))
    for g in range(8):
        c.gates.append(Gate(id=f"GV{g + 1:02d}", name=f"车辆道闸{g + 1}", kind="vehicle",
                            lat=ORIGIN_LAT - 0.0005, lon=ORIGIN_LON + g * 0.001))
    for n, (name, bid) in enumerate((("第一职工餐厅", "B01"), ("第二职工餐厅", "B06"))):
        cid = f"CT{n + 1}"
        windows = tuple(CanteenWindow(id=f"{cid}-W{w + 1}", canteen_id=cid, name=f"{w + 1}号窗口")
                        for w in range(7 + n))
        c.canteens.append(Canteen(id=cid, name=name, building_id=bid, windows=windows))
        for k in range(4):
            c.cameras.append(Camera(id=f"C-{cid}-K{k + 1}", building_id=bid, floor=1, zone="后厨", kind="kitchen"))
    for k in range(12):
        c.cameras.append(Camera(id=f"C-FENCE-{k + 1:02d}", building_id="B01", floor=0, zone="周界", kind="fence"))
    c.kg_classes = [f"{grade}{n}班" for grade in ("小", "中", "大") for n in range(1, 4)] + ["托班"]
    parents = rng.sample(c.people, 200)
    for k, parent in enumerate(parents):
        other = rng.choice(c.people).id
        c.children.append(Child(id=f"K{k + 1:04d}", name=parent.name[0] + "".join(rng.choice(GIVEN) for _ in range(2)),
                                class_id=c.kg_classes[k % len(c.kg_classes)], guardian_ids=(parent.id, other)))
    return c
