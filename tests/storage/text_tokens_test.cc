// Normalisation and tokens of the content index (storage/text_tokens.h):
// Chinese bigrams, Latin words, full width, traditional characters and
// broken UTF-8.
#include "storage/text_tokens.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace custos::storage {
namespace {

using Strings = std::vector<std::string>;

bool Has(const Strings& tokens, const std::string& t) {
  return std::find(tokens.begin(), tokens.end(), t) != tokens.end();
}

// Whether every query token of `query` is a token of `document` (what the
// index's AND match decides).
bool Matches(const std::string& query, const std::string& document) {
  const Strings q = QueryTokens(query);
  const Strings d = Tokens(document);
  if (q.empty()) return false;
  return std::all_of(q.begin(), q.end(), [&](const std::string& t) { return Has(d, t); });
}

TEST(TextTokens, OpenCcIsAvailable) {
  Status s = TextTokensReady();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

TEST(TextTokens, TwoCharacterWordsAreOneBigram) {
  EXPECT_EQ(QueryTokens("合同"), Strings({"合同"}));
  EXPECT_EQ(QueryTokens("甲方"), Strings({"甲方"}));
  EXPECT_TRUE(Matches("合同", "本合同由甲方与乙方签订"));
  EXPECT_TRUE(Matches("甲方", "本合同由甲方与乙方签订"));
  EXPECT_FALSE(Matches("合同", "本协议由甲方签订"));
}

TEST(TextTokens, LongerQueriesGiveTheirOverlappingBigrams) {
  EXPECT_EQ(QueryTokens("价格调整"), Strings({"价格", "格调", "调整"}));
  EXPECT_TRUE(Matches("价格调整", "第三条 价格调整 办法"));
  // 价格 and 调整 apart lack the bigram 格调.
  EXPECT_FALSE(Matches("价格调整", "价格 由双方 调整"));
  // The limitation (docs/search.md "Index"): the three bigrams apart match.
  EXPECT_TRUE(Matches("价格调整", "价格上涨，格调不高，调整方案"));
}

TEST(TextTokens, OneIdeographAloneIsAUnigram) {
  EXPECT_EQ(Tokens("年"), Strings({"年"}));
  EXPECT_EQ(QueryTokens("年"), Strings({"年"}));
  EXPECT_TRUE(Matches("年", "2024年"));
  // Inside a longer run only bigrams are indexed.
  EXPECT_FALSE(Matches("年", "今年度"));
}

TEST(TextTokens, FullWidthFoldsToAscii) {
  EXPECT_EQ(Normalise("ＡＢＣ１２３"), "abc123");
  EXPECT_EQ(Normalise("ＩＳＯ　９００１！"), "iso 9001!");
  EXPECT_EQ(Tokens("ＡＢＣ１２３"), Tokens("abc123"));
  EXPECT_TRUE(Matches("abc123", "型号ＡＢＣ１２３"));
  EXPECT_TRUE(Matches("ＡＢＣ１２３", "型号 ABC123"));
}

TEST(TextTokens, TraditionalMatchesSimplified) {
  EXPECT_EQ(Normalise("合約"), "合约");
  EXPECT_EQ(Normalise("價格調整"), "价格调整");
  EXPECT_TRUE(Matches("合約", "本合约"));
  EXPECT_TRUE(Matches("合约", "本合約"));
  EXPECT_TRUE(Matches("價格調整", "价格调整条款"));
  EXPECT_TRUE(Matches("价格调整", "價格調整條款"));
}

TEST(TextTokens, MixedChineseLatinAndDigits) {
  EXPECT_EQ(Tokens("甲方ABC公司2024年"), Strings({"甲方", "abc", "公司", "2024", "年"}));
  EXPECT_EQ(Tokens("Penalty clause, 违约金"), Strings({"penalty", "clause", "违约", "约金"}));
}

TEST(TextTokens, MixedLetterAndDigitRunsKeepTheRunAndItsParts) {
  EXPECT_EQ(Tokens("ISO9001"), Strings({"iso9001", "iso", "9001"}));
  EXPECT_EQ(QueryTokens("iso9001"), Strings({"iso", "9001"}));
  EXPECT_TRUE(Matches("9001", "认证 ISO9001"));
  EXPECT_TRUE(Matches("iso9001", "ISO 9001 认证"));
}

TEST(TextTokens, LatinOneLettersAreWordsAndFoldCase) {
  EXPECT_EQ(Tokens("Société GÉNÉRALE"), Strings({"société", "générale"}));
}

TEST(TextTokens, LongWordsAreCut) {
  const std::string word(200, 'a');
  EXPECT_EQ(Tokens(word), Strings({std::string(kMaxWordBytes, 'a')}));
}

TEST(TextTokens, QueryTokensAreDistinct) {
  EXPECT_EQ(QueryTokens("合同 合同 contract Contract"), Strings({"合同", "contract"}));
  EXPECT_TRUE(QueryTokens("，。！ ？").empty());
  EXPECT_TRUE(QueryTokens("").empty());
}

TEST(TextTokens, TermFrequenciesCount) {
  auto tf = TermFrequencies("合同，合同。Contract contract 甲方");
  EXPECT_EQ(tf["合同"], 2u);
  EXPECT_EQ(tf["contract"], 2u);
  EXPECT_EQ(tf["甲方"], 1u);
  EXPECT_EQ(tf.size(), 3u);
}

TEST(TextTokens, InvalidUtf8IsReplacedNeverFatal) {
  const std::vector<std::string> bad = {
      std::string("\xff\xfe合同\x80"),           // stray bytes
      std::string("合\xe5\x90"),                 // truncated sequence
      std::string("\xc0\xaf abc"),               // overlong '/'
      std::string("\xed\xa0\x80 甲方"),          // a surrogate
      std::string("\xf4\x90\x80\x80"),           // above U+10FFFF
      std::string("\xe4\xb8", 2),                // only a lead and one byte
      std::string("a\0b", 3),                    // NUL inside
  };
  for (const std::string& s : bad) {
    const std::string n = Normalise(s);
    // The output is valid UTF-8: normalising again changes nothing.
    EXPECT_EQ(Normalise(n), n);
    (void)Tokens(s);
    (void)QueryTokens(s);
  }
  EXPECT_EQ(Normalise("\xff"), "\xef\xbf\xbd");
  EXPECT_EQ(Tokens(std::string("\xff\xfe合同\x80")), Strings({"合同"}));
}

TEST(TextTokens, ExtensionBIdeographsPair) {
  // U+20000 𠀀 and U+20001 𠀁 (four bytes each) form one bigram.
  EXPECT_EQ(Tokens("\xf0\xa0\x80\x80\xf0\xa0\x80\x81"), Strings({"\xf0\xa0\x80\x80\xf0\xa0\x80\x81"}));
}

}  // namespace
}  // namespace custos::storage
