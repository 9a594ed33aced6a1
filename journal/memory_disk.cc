#include "journal/memory_disk.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/assert.h"

namespace lockstep::journal {

MemoryDisk::MemoryDisk(std::size_t depth) : depth_(depth) { LS_ASSERT(depth >= 1); }

MemoryDisk::Directory::Directory(const Directory& other) { *this = other; }

MemoryDisk::Directory& MemoryDisk::Directory::operator=(const Directory& other) {
  if (this == &other) return *this;
  std::map<const File*, std::shared_ptr<File>> copies;
  const auto copy_of = [&copies](const std::shared_ptr<File>& file) -> std::shared_ptr<File> {
    if (file == nullptr) return nullptr;
    std::shared_ptr<File>& copy = copies[file.get()];
    if (copy == nullptr) copy = std::make_shared<File>(*file);
    return copy;
  };
  files.clear();
  durable.clear();
  handles.clear();
  for (const auto& [name, file] : other.files) files[name] = copy_of(file);
  for (const auto& [name, file] : other.durable) durable[name] = copy_of(file);
  for (const Handle& h : other.handles) handles.push_back({h.name, copy_of(h.file)});
  return *this;
}

void MemoryDisk::fail(Op op, std::uint64_t nth, int error_code, bool forever) {
  LS_ASSERT(nth >= 1 && error_code > 0);
  faults_.push_back({op, nth, error_code, forever});
}

void MemoryDisk::short_write(std::uint64_t nth, std::size_t bytes) {
  LS_ASSERT(nth >= 1);
  short_writes_[nth] = bytes;
}

void MemoryDisk::crash_at(std::uint64_t io_number, std::size_t torn_bytes) {
  LS_ASSERT(io_number >= 1);
  crash_at_ = io_number;
  torn_bytes_ = torn_bytes;
}

void MemoryDisk::crash_keeping_sectors_at(std::uint64_t io_number, std::uint64_t seed) {
  LS_ASSERT(io_number >= 1);
  crash_at_ = io_number;
  crash_keeps_sectors_ = true;
  crash_seed_ = seed;
}

void MemoryDisk::flip_bit(const std::string& name, std::uint64_t offset, int bit) {
  File& f = *dir_.files.at(name);
  const auto mask = std::byte{static_cast<unsigned char>(1u << bit)};
  if (offset < f.current.size()) f.current[offset] ^= mask;
  if (offset < f.durable.size()) f.durable[offset] ^= mask;
}

MemoryDisk MemoryDisk::restarted() const {
  MemoryDisk disk(depth_);
  for (const auto& [name, file] : dir_.durable) {
    auto copy = std::make_shared<File>(File{file->durable, file->durable});
    disk.dir_.files[name] = copy;
    disk.dir_.durable[name] = std::move(copy);
  }
  return disk;
}

MemoryDisk MemoryDisk::killed() const {
  MemoryDisk disk(depth_);
  for (const auto& [name, file] : dir_.files) {
    auto copy = std::make_shared<File>(File{file->current, file->current});
    disk.dir_.files[name] = copy;
    disk.dir_.durable[name] = std::move(copy);
  }
  return disk;
}

std::vector<std::byte> MemoryDisk::contents(const std::string& name) const {
  const auto it = dir_.files.find(name);
  return it == dir_.files.end() ? std::vector<std::byte>{} : it->second->current;
}

MemoryDisk::File* MemoryDisk::file_of(FileHandle handle, std::string* name) {
  if (handle >= dir_.handles.size() || dir_.handles[handle].file == nullptr) return nullptr;
  *name = dir_.handles[handle].name;
  return dir_.handles[handle].file.get();
}

IoStatus MemoryDisk::next_call(Op op, const std::string& name, std::uint64_t offset,
                               std::span<const std::byte> torn_source, File* file) {
  ++io_count_;
  std::uint64_t nth = 0;
  const char* what = "";
  switch (op) {
    case Op::kWrite: nth = ++writes_, what = "write"; break;
    case Op::kSync: nth = ++syncs_, what = "fdatasync"; break;
    case Op::kRename: nth = ++renames_, what = "rename"; break;
  }
  if (crashed_) return IoStatus::error(EIO, what, name, offset);
  if (crash_at_ != 0 && io_count_ == crash_at_) {
    crashed_ = true;
    if (crash_keeps_sectors_) {
      lose_power_keeping_sectors(
          offset, op == Op::kWrite ? torn_source : std::span<const std::byte>{}, file);
    } else if (op == Op::kWrite && file != nullptr) {
      const std::size_t torn = std::min(torn_bytes_, torn_source.size());
      if (file->durable.size() < offset + torn) file->durable.resize(offset + torn);
      if (torn > 0) std::memcpy(file->durable.data() + offset, torn_source.data(), torn);
    }
    return IoStatus::error(EIO, what, name, offset);
  }
  for (const Fault& f : faults_) {
    if (f.op == op && (nth == f.nth || (f.forever && nth > f.nth))) {
      return IoStatus::error(f.error_code, what, name, offset);
    }
  }
  return IoStatus::ok();
}

void MemoryDisk::lose_power_keeping_sectors(std::uint64_t offset, std::span<const std::byte> write,
                                            File* file) {
  constexpr std::size_t kSector = 512;
  // The write being made when power failed reached the page cache, as far as anyone knows.
  if (file != nullptr && !write.empty()) {
    if (file->current.size() < offset + write.size()) file->current.resize(offset + write.size());
    std::memcpy(file->current.data() + offset, write.data(), write.size());
  }
  std::uint64_t state = crash_seed_ * 0x9e3779b97f4a7c15ull + 1;
  const auto coin = [&state] {  // splitmix64
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return ((z ^ (z >> 31)) & 1) != 0;
  };
  std::vector<File*> files;  // each file once, in name order: the same seed, the same disk
  for (const auto& [name, f] : dir_.files) {
    if (std::find(files.begin(), files.end(), f.get()) == files.end()) files.push_back(f.get());
  }
  for (File* f : files) {
    // The size is metadata: the new one (a write's extension, fallocate) survives, or the
    // old one, as a whole; what grew reads as zeros (unwritten extents) unless its
    // sectors survive too; sectors past the size that survives are not visible.
    if (f->current.size() != f->durable.size() && coin()) f->durable.resize(f->current.size());
    const std::size_t visible = std::min(f->current.size(), f->durable.size());
    for (std::size_t at = 0; at < visible; at += kSector) {
      const std::size_t n = std::min(kSector, visible - at);
      if (std::memcmp(f->current.data() + at, f->durable.data() + at, n) == 0 || !coin()) continue;
      std::memcpy(f->durable.data() + at, f->current.data() + at, n);
    }
  }
}

IoStatus MemoryDisk::sys_write(FileHandle handle, std::uint64_t offset,
                               std::span<const std::byte> bytes, std::size_t* written) {
  std::string name;
  File* f = file_of(handle, &name);
  if (f == nullptr) return IoStatus::error(EBADF, "write", "", offset);
  if (IoStatus s = next_call(Op::kWrite, name, offset, bytes, f); !s) return s;
  std::size_t n = bytes.size();
  if (const auto it = short_writes_.find(writes_); it != short_writes_.end()) {
    n = std::min(n, it->second);
  }
  if (f->current.size() < offset + n) f->current.resize(offset + n);
  if (n > 0) std::memcpy(f->current.data() + offset, bytes.data(), n);
  *written = n;
  return IoStatus::ok();
}

IoStatus MemoryDisk::sys_sync(FileHandle handle, std::uint64_t offset) {
  std::string name;
  File* f = file_of(handle, &name);
  if (f == nullptr) return IoStatus::error(EBADF, "fdatasync", "", offset);
  if (IoStatus s = next_call(Op::kSync, name, offset, {}, nullptr); !s) return s;
  f->durable = f->current;
  return IoStatus::ok();
}

IoStatus MemoryDisk::write_all(FileHandle handle, std::uint64_t offset,
                               std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    std::size_t written = 0;
    if (IoStatus s = sys_write(handle, offset, bytes, &written); !s) return s;
    if (written == 0) {
      return IoStatus::error(EIO, "write (no progress)", dir_.handles[handle].name, offset);
    }
    offset += written;
    bytes = bytes.subspan(written);
  }
  return IoStatus::ok();
}

IoStatus MemoryDisk::list(std::vector<std::string>* names) {
  names->clear();
  for (const auto& entry : dir_.files) names->push_back(entry.first);  // std::map: sorted
  return IoStatus::ok();
}

IoStatus MemoryDisk::open(std::string_view name, const OpenOptions& options, FileHandle* file) {
  const std::string key(name);
  if (!dir_.files.contains(key)) {
    if (!options.create) return IoStatus::error(ENOENT, "open", key, 0);
    dir_.files[key] = std::make_shared<File>();
  }
  dir_.handles.push_back({key, dir_.files.at(key)});
  *file = static_cast<FileHandle>(dir_.handles.size() - 1);
  return IoStatus::ok();
}

IoStatus MemoryDisk::close(FileHandle file) {
  if (file >= dir_.handles.size() || dir_.handles[file].file == nullptr) {
    return IoStatus::error(EBADF, "close", "", 0);
  }
  dir_.handles[file].file.reset();
  return IoStatus::ok();
}

IoStatus MemoryDisk::allocate(FileHandle file, std::uint64_t bytes) {
  std::string name;
  File* f = file_of(file, &name);
  if (f == nullptr) return IoStatus::error(EBADF, "fallocate", "", 0);
  if (f->current.size() < bytes) f->current.resize(bytes);
  return IoStatus::ok();
}

IoStatus MemoryDisk::size(FileHandle file, std::uint64_t* bytes) {
  std::string name;
  File* f = file_of(file, &name);
  if (f == nullptr) return IoStatus::error(EBADF, "fstat", "", 0);
  *bytes = f->current.size();
  return IoStatus::ok();
}

IoStatus MemoryDisk::read(FileHandle file, std::uint64_t offset, std::span<std::byte> out,
                          std::size_t* got) {
  std::string name;
  File* f = file_of(file, &name);
  if (f == nullptr) return IoStatus::error(EBADF, "read", "", offset);
  const std::size_t n =
      offset >= f->current.size()
          ? 0
          : std::min<std::size_t>(out.size(), f->current.size() - static_cast<std::size_t>(offset));
  if (n > 0) std::memcpy(out.data(), f->current.data() + offset, n);
  *got = n;
  return IoStatus::ok();
}

IoStatus MemoryDisk::truncate(FileHandle file, std::uint64_t bytes) {
  std::string name;
  File* f = file_of(file, &name);
  if (f == nullptr) return IoStatus::error(EBADF, "ftruncate", "", bytes);
  f->current.resize(bytes);
  return IoStatus::ok();
}

IoStatus MemoryDisk::write_and_sync(FileHandle file, std::uint64_t offset,
                                    std::span<const std::byte> bytes) {
  if (IoStatus s = write_all(file, offset, bytes); !s) return s;
  return sys_sync(file, offset);
}

IoStatus MemoryDisk::remove(std::string_view name) {
  // Simplification: a removal is durable at once (the journal syncs the directory after
  // every removal anyway, and a removed file that came back would only be removed again).
  // After a power loss nothing changes the disk any more.
  const std::string key(name);
  if (crashed_) return IoStatus::error(EIO, "unlink", key, 0);
  if (dir_.files.erase(key) == 0) return IoStatus::error(ENOENT, "unlink", key, 0);
  dir_.durable.erase(key);
  return IoStatus::ok();
}

IoStatus MemoryDisk::rename(std::string_view from, std::string_view to) {
  const std::string old_name(from);
  const std::string new_name(to);
  const std::string names = old_name + " to " + new_name;
  // One system call. The durable directory is left as it is: only sync_directory()
  // makes the new name (and the old name's disappearance) durable.
  if (IoStatus s = next_call(Op::kRename, names, 0, {}, nullptr); !s) return s;
  const auto it = dir_.files.find(old_name);
  if (it == dir_.files.end()) return IoStatus::error(ENOENT, "rename", names, 0);
  if (old_name == new_name) return IoStatus::ok();
  std::shared_ptr<File> file = std::move(it->second);
  dir_.files.erase(it);
  dir_.files[new_name] = std::move(file);
  return IoStatus::ok();
}

IoStatus MemoryDisk::sync_directory() {
  if (IoStatus s = next_call(Op::kSync, ".", 0, {}, nullptr); !s) {
    return IoStatus::error(s.error_code(), "fsync of directory", ".", 0);
  }
  dir_.durable = dir_.files;
  return IoStatus::ok();
}

IoStatus MemoryDisk::submit(const DurableWrite& write) {
  LS_ASSERT(in_flight() < depth_);
  IoStatus status = write_all(write.file, write.offset, write.bytes);
  if (defer_syncs_) {
    deferred_.push_back({write.file, write.offset, write.tag, std::move(status), write.sync});
    return IoStatus::ok();
  }
  if (status && write.sync) status = sys_sync(write.file, write.offset);
  completions_.push(write.tag, std::move(status));
  return IoStatus::ok();
}

IoStatus MemoryDisk::reap(std::size_t min, std::vector<Completion>* out) {
  // Deferred syncs are made now, in submission order, each as its completion is handed
  // back (after the completions already queued).
  while (!deferred_.empty()) {
    Deferred d = std::move(deferred_.front());
    deferred_.pop_front();
    if (d.status && d.sync) d.status = sys_sync(d.file, d.offset);
    completions_.push(d.tag, std::move(d.status));
  }
  completions_.reap(min, out);
  return IoStatus::ok();
}

}  // namespace lockstep::journal
