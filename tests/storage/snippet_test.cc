// Snippets of search hits (storage/snippet.h): where the query's words
// are found in the original text, whatever its width, case or script
// form, and how the window is cut.
#include "storage/snippet.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace custos::storage {
namespace {

using Segments = std::vector<std::string>;

// The marked segments (1, 3, 5, ...).
Segments Marked(const Segments& s) {
  Segments out;
  for (size_t i = 1; i < s.size(); i += 2) out.push_back(s[i]);
  return out;
}

std::string Joined(const Segments& s) {
  std::string out;
  for (const std::string& x : s) out += x;
  return out;
}

TEST(Snippet, ChineseWordInShortTextIsMarkedWithoutEllipsis) {
  const Segments s = Snippet("第二版：价格调整条款修订", "价格调整");
  EXPECT_EQ(s, (Segments{"第二版：", "价格调整", "条款修订"}));
}

TEST(Snippet, TwoCharacterWordsAreEachMarked) {
  const Segments s = Snippet("本合同由甲方与乙方签订，甲方负责交付。", "甲方");
  EXPECT_EQ(Marked(s), (Segments{"甲方", "甲方"}));
  EXPECT_EQ(Joined(s), "本合同由甲方与乙方签订，甲方负责交付。");
}

TEST(Snippet, TraditionalTextFoundBySimplifiedQueryShowsOriginal) {
  const Segments s = Snippet("合約第五條：價格調整依物價指數", "价格调整");
  EXPECT_EQ(Marked(s), (Segments{"價格調整"}));
  EXPECT_EQ(s.front(), "合約第五條：");
}

TEST(Snippet, SimplifiedTextFoundByTraditionalQuery) {
  const Segments s = Snippet("合同第五条：价格调整依物价指数", "價格調整");
  EXPECT_EQ(Marked(s), (Segments{"价格调整"}));
}

TEST(Snippet, FullWidthQueryFindsHalfWidthTextAndTheReverse) {
  EXPECT_EQ(Marked(Snippet("证书编号 ISO9001 有效", "ＩＳＯ９００１")), (Segments{"ISO9001"}));
  EXPECT_EQ(Marked(Snippet("证书编号 ＩＳＯ９００１ 有效", "iso9001")), (Segments{"ＩＳＯ９００１"}));
}

TEST(Snippet, MixedLatinDigitsAndChineseMarkEachRun) {
  const Segments s = Snippet("供应商ABC公司 2026年 合同", "abc公司");
  EXPECT_EQ(Marked(s), (Segments{"ABC", "公司"}));
  EXPECT_EQ(Joined(s), "供应商ABC公司 2026年 合同");
}

TEST(Snippet, LatinTermMatchesWholeWordsOnly) {
  // "iso" inside "isolation" is no match; the standalone one is.
  const Segments s = Snippet("isolation first, then ISO 9001", "iso");
  EXPECT_EQ(Marked(s), (Segments{"ISO"}));
  // A digit part of a mixed run matches, as the index's tokens do.
  EXPECT_EQ(Marked(Snippet("certificate iso9001", "9001")), (Segments{"9001"}));
}

TEST(Snippet, WordsApartStillGiveAPassage) {
  // The index matches 价格调整 by its bigrams wherever they stand.
  const Segments s = Snippet("价格由双方协商，格调统一，调整另议", "价格调整");
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s[1], "价格");
}

TEST(Snippet, LongTextIsCutAroundTheMatchWithEllipses) {
  std::string before, after;
  for (int i = 0; i < 100; ++i) before += "前";
  for (int i = 0; i < 100; ++i) after += "后";
  const Segments s = Snippet(before + "价格调整" + after, "价格调整");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[1], "价格调整");
  EXPECT_EQ(s[0].rfind("\u2026", 0), 0u) << "starts with an ellipsis";
  EXPECT_NE(s[2].find("\u2026"), std::string::npos);
  EXPECT_EQ(s[2].substr(s[2].size() - 3), "\u2026");
  // About kSnippetChars characters: 18 before, 18 after, the ellipses.
  EXPECT_EQ(s[0], "\u2026" + std::string(before.end() - 18 * 3, before.end()));
  EXPECT_EQ(s[2], after.substr(0, 18 * 3) + "\u2026");
}

TEST(Snippet, MatchAtTheStartTakesTheWindowAfterIt) {
  std::string after;
  for (int i = 0; i < 100; ++i) after += "x ";
  const Segments s = Snippet("合同" + after, "合同");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], "");
  EXPECT_EQ(s[2], after.substr(0, 38) + "\u2026");
}

TEST(Snippet, InvalidUtf8ShowsReplacementAndCutsNoCharacter) {
  const std::string text = std::string("坏\xE4\xBD") + "价格调整" + "\xFF" + "尾\n行";
  const Segments s = Snippet(text, "价格调整");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], "坏\uFFFD\uFFFD");
  EXPECT_EQ(s[1], "价格调整");
  EXPECT_EQ(s[2], "\uFFFD尾 行") << "a line break shows as a space";
}

TEST(Snippet, NoMatchOrNoTermGivesNothing) {
  EXPECT_TRUE(Snippet("本合同由甲方签订", "乙方").empty());
  EXPECT_TRUE(Snippet("本合同由甲方签订", "").empty());
  EXPECT_TRUE(Snippet("本合同由甲方签订", "，。！").empty());
  EXPECT_TRUE(Snippet("", "合同").empty());
}

}  // namespace
}  // namespace custos::storage
