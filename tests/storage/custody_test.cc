// Signing custody (storage/custody.h): the marker binds custody to the data
// directory itself, so a copy carrying the marker, a restored directory
// awaiting promotion, and a damaged marker all leave the directory unable
// to sign, and the store's signer refuses with signing_not_promoted.
#include "storage/custody.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "tests/testutil/testutil.h"

namespace custos::storage {
namespace {

// Counts signatures; the stand-in for the log's key at this seam.
class CountingSigner final : public CheckpointSigner {
 public:
  StatusOr<std::string> Sign(uint64_t size, const crypto::Digest32&) override {
    ++signed_;
    return "signed " + std::to_string(size);
  }
  int signed_ = 0;
};

class CustodyTest : public ::testing::Test {
 protected:
  DataDir Fresh(const std::string& name) {
    const std::string root = tmp_.Sub(name);
    std::filesystem::create_directory(root);
    return DataDir(root);
  }
  testing::TempDir tmp_;
};

TEST_F(CustodyTest, MissingMarkerIsNotHeldAndBindingHoldsIt) {
  DataDir dir = Fresh("data");
  auto before = ReadCustody(dir);
  ASSERT_TRUE(before.ok()) << before.status().ToString();
  EXPECT_FALSE(before->present);
  EXPECT_FALSE(before->held);
  ASSERT_TRUE(BindCustody(dir, "created").ok());
  auto after = ReadCustody(dir);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->present);
  EXPECT_TRUE(after->held) << after->why_not;
}

TEST_F(CustodyTest, CopiedDirectoryCarriesAMarkerThatNoLongerMatches) {
  DataDir original = Fresh("original");
  ASSERT_TRUE(BindCustody(original, "created").ok());
  const std::string copy = tmp_.Sub("copy");
  std::filesystem::copy(original.root(), copy, std::filesystem::copy_options::recursive);
  auto c = ReadCustody(DataDir(copy));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->present);
  EXPECT_FALSE(c->held);
  EXPECT_NE(c->why_not.find("copied or moved"), std::string::npos) << c->why_not;
  EXPECT_TRUE(ReadCustody(original)->held);
}

TEST_F(CustodyTest, RestoredDirectoryAwaitsPromotionWithItsNote) {
  DataDir dir = Fresh("restored");
  ASSERT_TRUE(AwaitPromotion(dir, "restored from 深圳 backup\nsecond line", "/srv/档案/custos").ok());
  auto c = ReadCustody(dir);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->held);
  EXPECT_EQ(c->restored_from, "/srv/档案/custos");
  EXPECT_NE(c->why_not.find("awaiting promotion (restored from 深圳 backup second line)"),
            std::string::npos)
      << c->why_not;
}

// A reboot that numbers the disks differently changes the device number of
// the same directory; the file system id (from the file system's UUID on
// ext4, XFS, btrfs) and the inode still name it, so custody stays. A marker
// naming another device and another file system id is a copy's.
TEST_F(CustodyTest, RenumberedDeviceKeepsCustodyByFileSystemId) {
  DataDir dir = Fresh("data");
  ASSERT_TRUE(BindCustody(dir, "init").ok());
  const std::string marker = testing::ReadFileOrDie(CustodyPath(dir));
  auto with_device = [&](const std::string& device, const std::string& filesystem) {
    std::string text;
    std::istringstream in(marker);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("device ", 0) == 0) line = "device " + device;
      if (line.rfind("filesystem ", 0) == 0 && !filesystem.empty()) line = "filesystem " + filesystem;
      text += line + "\n";
    }
    return text;
  };
  ASSERT_NE(marker.find("\nfilesystem "), std::string::npos) << marker;
  testing::WriteFile(CustodyPath(dir), with_device("987654321", ""));
  auto renumbered = ReadCustody(dir);
  ASSERT_TRUE(renumbered.ok());
  EXPECT_TRUE(renumbered->held) << renumbered->why_not;

  testing::WriteFile(CustodyPath(dir), with_device("987654321", "123456789"));
  auto elsewhere = ReadCustody(dir);
  ASSERT_TRUE(elsewhere.ok());
  EXPECT_FALSE(elsewhere->held);
  EXPECT_NE(elsewhere->why_not.find("copied or moved"), std::string::npos) << elsewhere->why_not;
}

TEST_F(CustodyTest, MalformedMarkerIsNotHeld) {
  DataDir dir = Fresh("data");
  ASSERT_TRUE(BindCustody(dir, "created").ok());
  for (const std::string& text :
       {std::string("custos-custody-v1\nstate held\ndevice x\ninode 1\n"),
        std::string("custos-custody-v1\nstate sure\ndevice 1\ninode 1\n"),
        std::string("custos-custody-v0\nstate held\n")}) {
    testing::WriteFile(CustodyPath(dir), text);
    auto c = ReadCustody(dir);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->present);
    EXPECT_FALSE(c->held) << text;
  }
}

TEST_F(CustodyTest, SignerRefusesUntilAllowed) {
  CountingSigner inner;
  CustodySigner gate(inner, /*allowed=*/false, "awaiting promotion");
  StatusOr<std::string> refused = gate.Sign(587, crypto::Digest32{});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(refused.status().reason(), kSigningNotPromoted);
  EXPECT_EQ(inner.signed_, 0);
  gate.Allow();
  StatusOr<std::string> note = gate.Sign(587, crypto::Digest32{});
  ASSERT_TRUE(note.ok());
  EXPECT_EQ(*note, "signed 587");
}

}  // namespace
}  // namespace custos::storage
