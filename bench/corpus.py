"""A synthetic but realistic site root for benchmarks: a county's villages and notices.

    python bench/corpus.py OUT_DIR --notices 10000 --villages 1000 [--seed N]

writes OUT_DIR/site_config.yaml and OUT_DIR/content/{villages,notices}/ exactly in the
content format (docs/content-format.md), ready for `gongshi build --root OUT_DIR`. The
same arguments always give byte-identical files. The text is built from the phrases real
notices use (fund sources, project names, 驻村帮扶 boilerplate, amounts, dates, a few
Latin words such as PE管 or LED), so search, layout and privacy benchmarks see realistic
vocabulary, lengths and frequencies. Beneficiaries carry valid-looking resident IDs
(check digit correct, fictional area code) so the privacy steps have real work to do;
free text never holds a personal number, so the content passes the build's checks.

Also usable as a module: `generate(out_dir, notices=..., villages=..., seed=...)`.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path

# -- vocabulary ---------------------------------------------------------------------------

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "建国军华平明丽秀英桂兰玉梅芳志勇刚伟强磊洋艳娟霞春红海波林德福贵宝山水生成荣发祥庆永忠学文武兴旺振东新民"
# Beneficiaries' given names use characters rare in the rest of the text, so a masked
# name can never be confused with ordinary words by the leak gate.
RARE_GIVEN = "翠瑛琼婉妍璐莺缨榕樟檀枫桦蓉茵菁翊瑾琦珂珏璇瑗璟琨瑜瑶钰锦镕鑫淼焱垚燊骞骅骥麟"
PLACE_FIRST = "东西南北前后上下大小新老高石黄白青红柳杨李王张刘马牛龙凤桃杏梨枣松柏槐榆竹草花沙泉河溪塘湖山岭坡岗峪沟"
PLACE_SECOND = "家河山坡岗塘桥林泉石沟庄湾坪峪岭营寨屯堡店集铺口洼台头园"
PLACE_SUFFIX = ["村"]
TOWNSHIP_SUFFIX = ["镇", "乡"]
COUNTY = "示范县"

FUND_SOURCES = [
    "中央财政衔接推进乡村振兴补助资金", "省级财政衔接推进乡村振兴补助资金", "市级财政衔接资金",
    "县级财政衔接资金", "东西部协作资金", "中央专项彩票公益金", "定点帮扶单位帮扶资金",
    "以工代赈资金", "少数民族发展资金", "村集体经济收益", "社会帮扶资金", "一事一议财政奖补资金",
]
PROJECTS = [
    # (title topic, content, item names, kind)
    ("农村饮水安全巩固提升工程", "新建蓄水池{n}座、铺设PE管道{km}公里", ["蓄水池建设", "管网铺设", "入户水表安装"], "project"),
    ("村道硬化项目", "硬化村道{km}公里，宽{w}米", ["路面硬化", "排水沟", "安全防护栏"], "project"),
    ("危房改造项目", "改造C级、D级危房{n}户", ["房屋加固", "屋面改造", "危房拆除重建"], "project"),
    ("产业路建设项目", "新修产业路{km}公里", ["路基平整", "路面铺设"], "project"),
    ("农田灌溉渠道维修", "维修灌溉渠{km}公里，新建闸门{n}座", ["渠道清淤", "渠道衬砌", "闸门安装"], "project"),
    ("太阳能LED路灯安装项目", "安装太阳能LED路灯{n}盏", ["路灯采购", "路灯安装"], "project"),
    ("村文化广场建设", "新建文化广场{m}平方米", ["场地硬化", "健身器材", "宣传栏"], "project"),
    ("帮扶车间建设项目", "新建帮扶车间{m}平方米", ["厂房建设", "设备购置"], "project"),
    ("肉牛养殖基地建设", "新建标准化牛舍{n}栋", ["牛舍建设", "青贮池", "肉牛购置"], "project"),
    ("设施蔬菜大棚项目", "新建蔬菜大棚{n}座", ["大棚建设", "滴灌设备"], "project"),
    ("中药材种植基地", "种植中药材{mu}亩", ["种苗购置", "土地整理", "技术培训"], "project"),
    ("人居环境整治项目", "清理垃圾{n}吨，新建垃圾池{n2}个", ["垃圾清运", "垃圾池建设", "绿化美化"], "project"),
    ("户厕改造项目", "改造卫生户厕{n}户", ["厕具采购", "化粪池建设"], "project"),
    ("便民桥建设项目", "新建便民桥{n2}座", ["桥梁主体", "引道硬化"], "project"),
    ("光伏电站运维项目", "维护村级光伏电站{kw}千瓦", ["组件清洗", "逆变器更换"], "project"),
]
FUND_TOPICS = [
    ("到户产业帮扶资金使用公示", ["肉牛养殖补助", "中药材种植补助", "生猪养殖补助", "食用菌种植补助"]),
    ("低保金发放情况公示", ["城乡低保金", "分类施保金"]),
    ("生态护林员工资发放公示", ["护林员工资"]),
    ("公益岗位补贴发放公示", ["保洁员补贴", "护路员补贴", "护河员补贴"]),
    ("雨露计划补助资金公示", ["中职补助", "高职补助"]),
    ("小额信贷贴息资金公示", ["贴息资金"]),
    ("光伏收益分配公示", ["公益岗位工资", "小型公益事业", "奖励补助"]),
    ("教育资助资金发放公示", ["学前教育资助", "义务教育生活补助", "高中助学金"]),
    ("临时救助资金发放公示", ["临时救助金"]),
    ("危房改造补助资金公示", ["危房改造补助"]),
    ("村集体经济收益分配公示", ["分红", "公益事业", "滚动发展"]),
]
BENEFICIARY_TOPICS = [
    ("低保对象名单公示", "城乡低保"), ("生态护林员选聘名单公示", "护林员"),
    ("危房改造对象名单公示", "危房改造"), ("雨露计划补助对象名单公示", "雨露计划"),
    ("公益岗位人员名单公示", "公益岗位"), ("产业奖补对象名单公示", "产业奖补"),
    ("临时救助对象名单公示", "临时救助"), ("防返贫监测对象识别公示", "防返贫监测"),
]
PLAN_TOPICS = ["年度帮扶工作计划公示", "村级发展规划公示", "巩固拓展脱贫攻坚成果项目库入库公示", "驻村工作队年度工作要点公示"]
GENERAL_TOPICS = ["季度村务公开", "季度财务收支公开", "村民代表大会决议公开", "一事一议筹资筹劳公示",
                  "党务公开", "村规民约修订公示", "集体资产清查结果公示", "人居环境红黑榜公示"]
QUARTERS = ["第一季度", "第二季度", "第三季度", "第四季度"]
TEAM_UNITS = ["县人大常委会办公室", "县农业农村局", "县乡村振兴局", "县财政局", "县教育局", "县卫生健康局",
              "县自然资源局", "县交通运输局", "县水利局", "县供销社", "县农商银行", "县委组织部", "县住建局"]
FILLER = [
    "驻村工作队坚持每周走访农户，及时掌握群众生产生活情况。",
    "村“两委”召开会议研究，经村民代表大会讨论通过。",
    "本项目严格执行项目公告公示制度，接受群众监督。",
    "资金实行专账管理、专款专用，严禁挤占挪用。",
    "项目建成后由村集体负责管护，明确管护责任人。",
    "通过务工就业、产业带动等方式带动脱贫户和监测户增收。",
    "村务监督委员会全程参与项目实施和资金使用监督。",
    "如有异议，请于公示期内向村务监督委员会或乡镇纪委反映。",
    "工作队协助村里建立了微信群，方便在外务工人员了解村务。",
    "项目实施过程中优先吸纳本村劳动力务工，按日结算劳务报酬。",
    "乡镇组织有关部门进行了验收，工程质量符合设计要求。",
    "经入户核实，相关信息真实准确。",
    "下一步将继续加强防返贫动态监测，落实帮扶措施。",
    "本村饮水条件明显改善，群众满意度较高。",
    "合作社实行“合作社+农户”模式，保底收购农产品。",
    "项目资金按照工程进度分期拨付，验收合格后结清尾款。",
    "对公示内容有异议的，可拨打监督电话反映。",
    "村里组织开展了技能培训，参训群众{n}人次。",
    "驻村第一书记带领群众发展庭院经济，户均增收{n}百元。",
    "护林员按照网格化管理要求开展日常巡护。",
    "低保对象实行动态管理，做到应保尽保、应退尽退。",
    "利用App和村广播同步发布公示内容。",
    "危房改造坚持先鉴定后改造，确保住房安全。",
    "本年度共召开村民代表会议{n2}次。",
]
LATIN = ["PE管", "LED路灯", "PVC管材", "GPS巡护", "App", "Wi-Fi", "QQ群", "USB", "4G网络", "5G基站", "PPP模式"]


def resident_id(rng: random.Random) -> str:
    """An 18-digit resident ID with a correct check digit and a fictional area code."""
    area = "1399%02d" % rng.randint(1, 40)  # 1399xx is not a real prefecture
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 60))
    body = area + birth.strftime("%Y%m%d") + "%03d" % rng.randint(0, 999)
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]
    return body + check


def pinyin_id(name: str) -> str:
    try:
        from pypinyin import lazy_pinyin
    except ImportError:  # the generator also runs without the project installed
        return "v" + "".join("%x" % ord(ch) for ch in name)[:12]
    return "".join(lazy_pinyin(name)).lower()


def yaml_str(text: str) -> str:
    # A JSON string is a valid YAML double-quoted scalar, and never needs escaping rules of its own.
    return json.dumps(text, ensure_ascii=False)


def yaml_block(text: str, indent: str = "  ") -> str:
    return "|\n" + "".join(indent + line + "\n" if line else "\n" for line in text.split("\n"))


class Corpus:
    def __init__(self, seed: int, villages: int, notices: int, start: dt.date, end: dt.date):
        self.rng = random.Random(seed)
        self.village_count = villages
        self.notice_count = notices
        self.start, self.end = start, end

    # -- places ---------------------------------------------------------------------------
    def place_names(self, count: int, suffixes, used: set) -> list[str]:
        names = []
        rng = self.rng
        repeats = 0
        while len(names) < count:
            if rng.random() < 0.35:
                first = rng.choice(SURNAMES) + rng.choice("家庄营")
            else:
                first = rng.choice(PLACE_FIRST) + rng.choice(PLACE_SECOND)
            if repeats > 200:
                # The vocabulary is running out (a county of thousands of villages): number
                # them as real ones are (东河一村, 东河二村). Smaller counties never get here.
                first += rng.choice("一二三四五六七八九")
            name = first + rng.choice(suffixes)
            if name in used:
                repeats += 1
                continue
            repeats = 0
            used.add(name)
            names.append(name)
        return names

    def person(self, given=GIVEN) -> str:
        rng = self.rng
        return rng.choice(SURNAMES) + "".join(rng.choice(given) for _ in range(rng.choice((1, 2, 2))))

    def villages(self) -> list[dict]:
        used: set = set()
        townships = self.place_names(max(1, self.village_count // 15), TOWNSHIP_SUFFIX, used)
        names = self.place_names(self.village_count, PLACE_SUFFIX, used)
        ids: set = set()
        result = []
        for index, name in enumerate(names):
            base = pinyin_id(name) or f"v{index}"
            vid, n = base, 2
            while vid in ids:
                vid, n = f"{base}-{n}", n + 1
            ids.add(vid)
            result.append({"id": vid, "name": name, "township": townships[index % len(townships)]})
        return result

    # -- notices ----------------------------------------------------------------------------
    def date(self) -> dt.date:
        return self.start + dt.timedelta(days=self.rng.randint(0, (self.end - self.start).days))

    def amount(self, low: int, high: int) -> int:
        return self.rng.randint(low // 100, high // 100) * 100

    def fill(self, text: str) -> str:
        rng = self.rng
        return text.format(n=rng.randint(2, 60), n2=rng.randint(2, 9), km=f"{rng.randint(5, 80) / 10:g}", w=rng.choice((3, 3.5, 4, 4.5, 5)),
                           m=rng.randint(2, 40) * 50, mu=rng.randint(20, 600), kw=rng.choice((60, 100, 200, 300)))

    def filler(self, count: int) -> str:
        rng = self.rng
        sentences = [self.fill(s) for s in rng.sample(FILLER, count)]
        if rng.random() < 0.25:
            sentences.insert(rng.randint(0, len(sentences)), f"项目采用{rng.choice(LATIN)}等材料和技术，提高了使用效果。")
        return "".join(sentences)

    def split_amount(self, total: int, parts: int) -> list[int]:
        if parts == 1:
            return [total]
        cuts = sorted(self.rng.sample(range(1, total // 100), parts - 1))
        bounds = [0] + cuts + [total // 100]
        return [(b - a) * 100 for a, b in zip(bounds, bounds[1:])]

    def notice(self, village: dict, index: int, posted: dt.date) -> tuple[str, str]:
        rng = self.rng
        year = posted.year
        quarter = QUARTERS[(posted.month - 1) // 3]
        kind = rng.choices(("fund", "project", "beneficiaries", "plan", "general"), weights=(30, 30, 15, 8, 17))[0]
        lines = [f"village: {village['id']}"]
        body_parts = []
        funds = project = None
        beneficiaries = []
        stage = None
        if kind == "project":
            topic, content, items, _ = rng.choice(PROJECTS)
            stage = rng.choice(("before", "after"))
            title = f"{village['name']}{year}年{topic}{'公示' if stage == 'before' else '竣工公告'}"
            content = self.fill(content)
            total = self.amount(30000, 1500000)
            chosen = rng.sample(items, rng.randint(1, len(items)))
            funds = (rng.choice(FUND_SOURCES), total, list(zip(chosen, self.split_amount(total, len(chosen)))))
            project = {
                "location": f"{village['name']}{rng.randint(1, 8)}组",
                "content": content,
                "subsidy_standard": rng.choice(["按实际工程量结算", f"每户补助{rng.randint(5, 40) * 100}元", "按项目批复标准执行"]),
                "period": f"{year}-{posted.month:02d} 至 {year}-{min(12, posted.month + rng.randint(1, 6)):02d}",
                "implementer": f"{village['township']}人民政府",
                "responsible": f"{self.person()}（{rng.choice(['副镇长', '副乡长', '村党支部书记', '村委会主任'])}）",
                "goals": f"受益{rng.randint(20, 400)}户{rng.randint(80, 1500)}人，其中脱贫户{rng.randint(5, 80)}户",
                "benefit_mechanism": rng.choice(["优先吸纳脱贫户务工增加劳务收入", "资产归村集体所有，收益用于公益岗位", "改善生产生活条件，降低群众生产成本"]),
            }
            body_parts.append(f"根据《{COUNTY}{year}年巩固拓展脱贫攻坚成果和乡村振兴项目实施方案》，{village['name']}实施{topic}，"
                              f"建设内容为{content}，计划投资{total / 10000:g}万元。现将有关情况公示如下。")
        elif kind == "fund":
            topic, items = rng.choice(FUND_TOPICS)
            title = f"{village['name']}{year}年{quarter}{topic}"
            total = self.amount(5000, 300000)
            chosen = rng.sample(items, rng.randint(1, len(items)))
            funds = (rng.choice(FUND_SOURCES), total, list(zip(chosen, self.split_amount(total, len(chosen)))))
            body_parts.append(f"{year}年{quarter}，{village['name']}共使用{funds[0]}{total / 10000:g}万元，主要用于{'、'.join(chosen)}。"
                              f"资金已通过“一卡通”发放到户。现将有关情况公示如下。")
            if rng.random() < 0.4:
                beneficiaries = self.beneficiaries(rng.randint(2, 8))
        elif kind == "beneficiaries":
            topic, program = rng.choice(BENEFICIARY_TOPICS)
            title = f"{village['name']}{year}年{topic}"
            beneficiaries = self.beneficiaries(rng.randint(3, 15))
            body_parts.append(f"经农户申请、村民代表评议、村“两委”审核，{village['name']}拟将以下{len(beneficiaries)}户纳入{program}范围。"
                              f"公示期满无异议后报{village['township']}审批。")
        elif kind == "plan":
            topic = rng.choice(PLAN_TOPICS)
            title = f"{village['name']}{year}年{topic}"
            picks = rng.sample(PROJECTS, 3)
            body_parts.append(f"{year}年，{village['name']}计划实施{'、'.join(p[0] for p in picks)}等项目，"
                              f"预计总投资{self.amount(100000, 3000000) / 10000:g}万元。")
        else:
            topic = rng.choice(GENERAL_TOPICS)
            title = f"{village['name']}{year}年{quarter}{topic}" if "季度" in topic else f"{village['name']}{year}年{topic}"
            topic_text = topic.replace("季度", "")
            body_parts.append(f"现将{village['name']}{year}年{quarter}{topic_text}有关事项公开如下：本期收入{self.amount(1000, 90000) / 10000:g}万元，"
                              f"支出{self.amount(1000, 90000) / 10000:g}万元。")
        body_parts.append(self.filler(rng.randint(2, 6)))
        if rng.random() < 0.3:
            body_parts.append(f"- 公示地点：{village['name']}村务公开栏\n- 公示时间：{posted.month}月{posted.day}日起")
        body = "\n\n".join(body_parts)

        lines.append(f"title: {yaml_str(title)}")
        lines.append(f"kind: {kind}")
        if stage:
            lines.append(f"stage: {stage}")
        lines.append(f"posted: {posted.isoformat()}")
        if rng.random() < 0.8:
            lines.append(f"until: {(posted + dt.timedelta(days=rng.choice((6, 9, 9, 9, 14)))).isoformat()}")
        else:
            lines.append(f"days: {rng.choice((7, 10, 15))}")
        lines.append(f"published_by: {yaml_str(village['name'] + '村民委员会')}")
        if rng.random() < 0.85:
            lines.append("reviewed_by: 村务监督委员会")
        lines.append("body: " + yaml_block(body).rstrip("\n"))
        if funds:
            source, total, items = funds
            lines += ["funds:", f"  source: {yaml_str(source)}", f"  total: {total}", "  items:"]
            lines += [f"    - name: {yaml_str(name)}\n      amount: {amount}" for name, amount in items]
        if project:
            lines.append("project:")
            lines += [f"  {key}: {yaml_str(value)}" for key, value in project.items()]
        if beneficiaries:
            lines.append("beneficiaries:")
            lines += beneficiaries
        lines.append("postings:")
        lines.append(f"  - place: {yaml_str('村委会村务公开栏')}\n    date: {posted.isoformat()}\n    by: 村务监督委员会")
        if rng.random() < 0.3:
            lines.append(f"  - place: {yaml_str(rng.choice(['村民小组公示栏', '项目实施现场', '乡镇政务公开栏']))}\n    date: {posted.isoformat()}")
        if rng.random() < 0.08:
            received = posted + dt.timedelta(days=rng.randint(1, 5))
            lines += ["objections:", f"  - received: {received.isoformat()}",
                      f"    summary: {yaml_str(rng.choice(['有村民反映补助标准不一致', '有群众询问项目工期', '有村民反映名单遗漏']))}"]
            if rng.random() < 0.8:
                lines += [f"    resolution: {yaml_str('经核实已答复并更正')}", f"    resolved: {(received + dt.timedelta(days=rng.randint(1, 4))).isoformat()}"]
        notice_id = f"{village['id']}-{year}-{index:03d}"
        return notice_id, "\n".join(lines) + "\n"

    def beneficiaries(self, count: int) -> list[str]:
        rng = self.rng
        rows = []
        for _ in range(count):
            row = [f"  - name: {self.person(RARE_GIVEN)}", f"    household_size: {rng.randint(1, 7)}", f"    amount: {self.amount(300, 8000)}"]
            if rng.random() < 0.6:
                row.append(f'    id_number: "{resident_id(rng)}"')
            if rng.random() < 0.2:
                row.append(f"    note: {yaml_str(rng.choice(['肉牛2头', '脱贫户', '监测户', '一级残疾', '五保户']))}")
            rows.append("\n".join(row))
        return rows

    def village_file(self, village: dict, notice_ids: list[str]) -> str:
        rng = self.rng
        lines = [f"name: {village['name']}", f"township: {village['township']}",
                 f"households: {rng.randint(80, 900)}", f"population: {rng.randint(300, 3500)}",
                 f"status: {rng.choice(['脱贫村（2019年出列）', '脱贫村（2020年出列）', '非贫困村', '乡村振兴示范村'])}",
                 "summary: " + yaml_block(f"{village['name']}位于{village['township']}{rng.choice(['东部', '西部', '南部', '北部', '中部'])}，"
                                          f"主导产业为{rng.choice(['肉牛养殖', '中药材种植', '设施蔬菜', '小杂粮', '林果'])}。").rstrip("\n"),
                 "team:"]
        for member in range(rng.randint(1, 3)):
            phone = "13%d%08d" % (rng.randint(0, 9), rng.randint(0, 99999999))
            lines += [f"  - name: {self.person()}", f"    role: {'第一书记、工作队队长' if member == 0 else '工作队员'}",
                      f"    unit: {rng.choice(TEAM_UNITS)}", f'    phone: "{phone}"', f"    since: {2021 + rng.randint(0, 4)}-03-01"]
        lines += ["plan:", f"  title: {yaml_str('2024—2026年村级发展规划')}", "  period: 2024-2026", "  commitments:"]
        for topic, content, _, _ in rng.sample(PROJECTS, rng.randint(1, 4)):
            status = rng.choice(("planned", "in_progress", "done", "delayed"))
            lines += [f"    - title: {yaml_str(topic)}", f"      due: {rng.randint(2024, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                      f"      status: {status}"]
            if notice_ids and rng.random() < 0.5:
                lines.append(f"      notices: [{rng.choice(notice_ids)}]")
        return "\n".join(lines) + "\n"


def generate(out_dir: Path, *, notices: int = 10000, villages: int = 1000, seed: int = 1,
             start: dt.date = dt.date(2021, 1, 1), end: dt.date = dt.date(2026, 12, 31)) -> Path:
    """Write a site root into `out_dir` (which must not hold content yet); returns it."""
    out_dir = Path(out_dir)
    corpus = Corpus(seed, villages, notices, start, end)
    village_list = corpus.villages()
    (out_dir / "content" / "villages").mkdir(parents=True, exist_ok=True)
    (out_dir / "content" / "notices").mkdir(parents=True, exist_ok=True)
    (out_dir / "site_config.yaml").write_text(
        f"title: {COUNTY}驻村帮扶公开平台\nbase_url: https://gongshi.example.gov.cn/portal/\nlanguage: zh-CN\ncounty: {COUNTY}\n"
        'supervision_phones: ["12317", "0399-5550000"]\nprivacy:\n  names: mask\n  on_unmasked_pii: fail\n', encoding="utf-8")
    per_village: dict[str, list[str]] = {v["id"]: [] for v in village_list}
    counters: dict[str, int] = {}
    for n in range(notices):
        village = village_list[n % len(village_list)] if n < len(village_list) else corpus.rng.choice(village_list)
        counters[village["id"]] = counters.get(village["id"], 0) + 1
        notice_id, text = corpus.notice(village, counters[village["id"]], corpus.date())
        folder = out_dir / "content" / "notices" / village["id"]
        folder.mkdir(exist_ok=True)
        (folder / f"{notice_id}.yaml").write_text(text, encoding="utf-8")
        per_village[village["id"]].append(notice_id)
    for village in village_list:
        (out_dir / "content" / "villages" / f"{village['id']}.yaml").write_text(corpus.village_file(village, per_village[village["id"]]), encoding="utf-8")
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a synthetic county site root (site_config.yaml and content/) for benchmarks.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--notices", type=int, default=10000)
    parser.add_argument("--villages", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if (args.out_dir / "content").exists():
        print(f"{args.out_dir}/content already exists: choose an empty folder", file=sys.stderr)
        return 1
    generate(args.out_dir, notices=args.notices, villages=args.villages, seed=args.seed)
    print(f"wrote {args.villages} villages and {args.notices} notices to {args.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
