// The difference of two extracted texts (storage/text_diff.h): Chinese by
// character, Latin scripts by word, mixed text, changes at either end,
// identical and empty sides, broken UTF-8, and the fallback to lines (and
// to whole texts) past the limits.
#include "storage/text_diff.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace custos::storage {
namespace {

using Segs = std::vector<std::pair<std::string, std::string>>;  // (op, text)

Segs Flat(const TextDiff& d) {
  Segs out;
  for (const DiffSegment& s : d.segments) out.emplace_back(std::string(Name(s.op)), s.text);
  return out;
}

// The old (kEqual + kDelete) or new (kEqual + kInsert) text of a diff.
std::string Side(const TextDiff& d, DiffOp other) {
  std::string out;
  for (const DiffSegment& s : d.segments) {
    if (s.op == DiffOp::kEqual || s.op == other) out += s.text;
  }
  return out;
}

// Every diff gives back both texts, never has two neighbours of one op,
// and never an empty segment.
void ExpectWellFormed(const TextDiff& d, const std::string& from, const std::string& to) {
  EXPECT_EQ(Side(d, DiffOp::kDelete), from);
  EXPECT_EQ(Side(d, DiffOp::kInsert), to);
  for (size_t i = 0; i < d.segments.size(); ++i) {
    EXPECT_FALSE(d.segments[i].text.empty()) << i;
    if (i > 0) {
      EXPECT_NE(d.segments[i].op, d.segments[i - 1].op) << i;
    }
  }
}

TEST(TextDiff, ChineseChangesByCharacter) {
  const std::string from = "价格调整为百分之五";
  const std::string to = "价格调整为百分之八";
  TextDiff d = DiffTexts(from, to);
  EXPECT_EQ(d.level, DiffLevel::kUnit);
  EXPECT_EQ(Flat(d), (Segs{{"equal", "价格调整为百分之"}, {"delete", "五"}, {"insert", "八"}}));
  ExpectWellFormed(d, from, to);
}

TEST(TextDiff, ChineseInsertionInTheMiddleKeepsTheRestEqual) {
  const std::string from = "甲方应于三十日内付款。";
  const std::string to = "甲方应于收到发票后三十日内付款。";
  TextDiff d = DiffTexts(from, to);
  EXPECT_EQ(Flat(d),
            (Segs{{"equal", "甲方应于"}, {"insert", "收到发票后"}, {"equal", "三十日内付款。"}}));
}

TEST(TextDiff, LatinChangesByWordNotByLetter) {
  const std::string from = "penalty of 5% per day";
  const std::string to = "penalty of 8% per day";
  TextDiff d = DiffTexts(from, to);
  EXPECT_EQ(
      Flat(d),
      (Segs{{"equal", "penalty of "}, {"delete", "5"}, {"insert", "8"}, {"equal", "% per day"}}));
  // A changed word is replaced whole, not letter by letter.
  TextDiff words = DiffTexts("the buyer shall pay", "the seller shall pay");
  EXPECT_EQ(
      Flat(words),
      (Segs{
          {"equal", "the "}, {"delete", "buyer"}, {"insert", "seller"}, {"equal", " shall pay"}}));
}

TEST(TextDiff, MixedChineseAndLatin) {
  const std::string from = "甲方ABC有限公司 pays 违约金 USD 100";
  const std::string to = "甲方XYZ有限公司 pays 违约金 USD 200";
  TextDiff d = DiffTexts(from, to);
  EXPECT_EQ(Flat(d), (Segs{{"equal", "甲方"},
                           {"delete", "ABC"},
                           {"insert", "XYZ"},
                           {"equal", "有限公司 pays 违约金 USD "},
                           {"delete", "100"},
                           {"insert", "200"}}));
  ExpectWellFormed(d, from, to);
}

TEST(TextDiff, UnitsOfEachScript) {
  const std::string text = "合同 Contract-2026，  第3条 naïve";
  std::vector<std::string_view> units = DiffUnits(text);
  std::vector<std::string> got(units.begin(), units.end());
  EXPECT_EQ(got, (std::vector<std::string>{"合", "同", " ", "Contract", "-", "2026", "，", "  ",
                                           "第", "3", "条", " ", "naïve"}));
}

TEST(TextDiff, InsertAndDeleteAtEitherEnd) {
  EXPECT_EQ(Flat(DiffTexts("合同正文", "补充：合同正文")),
            (Segs{{"insert", "补充："}, {"equal", "合同正文"}}));
  EXPECT_EQ(Flat(DiffTexts("合同正文", "合同正文 end")),
            (Segs{{"equal", "合同正文"}, {"insert", " end"}}));
  EXPECT_EQ(Flat(DiffTexts("Draft: 合同正文", "合同正文")),
            (Segs{{"delete", "Draft: "}, {"equal", "合同正文"}}));
  EXPECT_EQ(Flat(DiffTexts("合同正文（草稿）", "合同正文")),
            (Segs{{"equal", "合同正文"}, {"delete", "（草稿）"}}));
}

TEST(TextDiff, IdenticalTextsAreOneEqualSegment) {
  TextDiff d = DiffTexts("价格 price 不变", "价格 price 不变");
  EXPECT_EQ(Flat(d), (Segs{{"equal", "价格 price 不变"}}));
  EXPECT_EQ(d.level, DiffLevel::kUnit);
}

TEST(TextDiff, EmptySides) {
  EXPECT_TRUE(DiffTexts("", "").segments.empty());
  EXPECT_EQ(Flat(DiffTexts("", "新条款 new clause")), (Segs{{"insert", "新条款 new clause"}}));
  EXPECT_EQ(Flat(DiffTexts("旧条款 old clause", "")), (Segs{{"delete", "旧条款 old clause"}}));
}

TEST(TextDiff, InvalidUtf8IsReplacedNotFatal) {
  // A stray continuation byte, a truncated sequence, an overlong form and
  // an encoded surrogate.
  const std::string from = std::string("价格\x80调整") + "\xE4\xBB";
  const std::string to = std::string("价格\xC0\xAF调整\xED\xA0\x80");
  TextDiff d = DiffTexts(from, to);
  ExpectWellFormed(d, ValidUtf8(from), ValidUtf8(to));
  EXPECT_EQ(ValidUtf8(from), "价格\xEF\xBF\xBD调整\xEF\xBF\xBD\xEF\xBF\xBD");
  for (const DiffSegment& s : d.segments) EXPECT_EQ(ValidUtf8(s.text), s.text);
  // Units of raw broken bytes are one byte each and still cover the text.
  const std::string raw =
      "a\xFF\xFE"
      "b";
  std::string joined;
  for (std::string_view u : DiffUnits(raw)) joined += u;
  EXPECT_EQ(joined, raw);
}

TEST(TextDiff, TooManyEditsFallsBackToLines) {
  std::string from;
  std::string to;
  for (int i = 0; i < 20; ++i) {
    from += "第" + std::to_string(i) + "条 clause " + std::to_string(i) + " 旧文本 old\n";
    to += "第" + std::to_string(i) + "条 clause " + std::to_string(i) +
          (i % 2 == 0 ? " 新文本 new\n" : " 旧文本 old\n");
  }
  DiffLimits limits;
  limits.max_edits = 25;  // the unit diff needs 40 edits; the line diff 20
  limits.max_units = 1000;
  TextDiff d = DiffTexts(from, to, limits);
  EXPECT_EQ(d.level, DiffLevel::kLine);
  ExpectWellFormed(d, from, to);
  ASSERT_FALSE(d.segments.empty());
  EXPECT_EQ(d.segments[0].op, DiffOp::kDelete);
  EXPECT_EQ(d.segments[0].text, "第0条 clause 0 旧文本 old\n");
}

TEST(TextDiff, TooManyLineEditsFallsBackToWholeTexts) {
  DiffLimits limits;
  limits.max_edits = 2;
  TextDiff d = DiffTexts("一\n二\n三\n", "四\n五\n六\n", limits);
  EXPECT_EQ(d.level, DiffLevel::kWhole);
  EXPECT_EQ(Flat(d), (Segs{{"delete", "一\n二\n三\n"}, {"insert", "四\n五\n六\n"}}));
}

TEST(TextDiff, LargeInputPastTheUnitCapIsDiffedByLine) {
  // About 150,000 units per side with the default limits (100,000): the unit
  // diff is not tried; one changed line is found by the line diff.
  std::string from;
  for (int i = 0; i < 8000; ++i)
    from += "第" + std::to_string(i) + "行 line 内容 content x y z w\n";
  std::string to = from;
  const std::string old_line = "第4000行 line 内容 content x y z w\n";
  to.replace(to.find(old_line), old_line.size(), "第4000行 line 新内容 new content\n");
  // Change both ends too, so the common prefix and suffix do not hide the size.
  from = "开头 start\n" + from + "结尾 end\n";
  to = "开始 begin\n" + to + "完 fin\n";
  ASSERT_GT(DiffUnits(from).size(), DiffLimits{}.max_units);
  TextDiff d = DiffTexts(from, to);
  EXPECT_EQ(d.level, DiffLevel::kLine);
  ExpectWellFormed(d, from, to);
  size_t changed = 0;
  for (const DiffSegment& s : d.segments) changed += s.op == DiffOp::kEqual ? 0 : 1;
  EXPECT_EQ(changed, 6u);  // three lines replaced: start, the middle one, end
}

}  // namespace
}  // namespace custos::storage
