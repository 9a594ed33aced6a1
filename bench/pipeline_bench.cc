// Pipeline throughput and handoff latency: the lockstep ring against queue baselines.
//
// Every benchmark is named by topology and implementation, BM_<topology>/<impl>/batch:N,
// and every topology runs each implementation on the identical workload, in this one
// binary, so the numbers of one run compare directly.
//
// Topologies (P = producer thread, S = stage, C = consumer; ==== is the shared structure):
//
//   BM_1P1C: one producer, one consumer. Threads: P1 | C1.
//
//     +----+  claim/publish  +======+  wait_for/publish  +----+
//     | P1 |---------------->| ring |<-------------------| C1 |
//     +----+                 +======+                    +----+
//        ^                                                  |
//        +------------- gating: never wrap past C1 ---------+
//
//     baselines:  P1 --enqueue--> [ queue ] --dequeue--> C1
//
//   BM_1P3Stage: a three-step pipeline. S1, S2 and S3 see every item, in order; S3 is the
//   sink. Threads: P1 | S1,S2,S3 (ONE thread polls the three stages round-robin, because
//   four spinning threads on two cores would starve one another).
//
//     +----+    +======+    +----+    +----+    +----+
//     | P1 |--->| ring |<---| S1 |<---| S2 |<---| S3 |     each stage's barrier waits on
//     +----+    +======+    +----+    +----+    +----+     the stage before it (S1 on the
//        ^                                         |       sequencer); the ring is shared,
//        +------------ gating on S3 ---------------+       nothing is copied
//
//     baselines:  P1 --> [ q1 ] --> S1 --> [ q2 ] --> S2 --> [ q3 ] --> S3
//                 (each stage dequeues from its queue and enqueues into the next)
//
//   BM_3P1C: three producers, one consumer. Threads: P1 | P2 | P3 | C1 (four threads on
//   two cores: oversubscribed by construction, for every implementation alike).
//
//     +----+
//     | P1 |--+
//     +----+  |  CAS claim  +======+  wait_for  +----+
//     | P2 |--+------------>| ring |<-----------| C1 |
//     +----+  |             +======+            +----+
//     | P3 |--+      (MultiProducerSequencer: per-slot availability markers)
//     +----+
//
//     baselines:  P1, P2, P3 --enqueue--> [ queue ] --dequeue--> C1
//
// Implementations:
//   lockstep_spin    RingBuffer + sequencer + SequenceBarrier, BusySpinWait
//   lockstep_hybrid  the same with HybridWait (spin, yield, then futex park)
//   moodycamel_cq    moodycamel::ConcurrentQueue with producer/consumer tokens
//   mutex_deque      std::deque behind a std::mutex, capped at the ring capacity
// moodycamel::ReaderWriterQueue is not built: Debian's libconcurrentqueue-dev does not ship
// readerwriterqueue.h (the reason is also recorded in the output's context).
// Baselines wait by spinning with cpu_relax(), like lockstep_spin; nothing here blocks.
//
// batch:N: N = 1 hands every item over on its own (one claim+publish per item, one
// dequeue per item, the consumer publishes its sequence after every item). N = 64: the
// producer claims/enqueues 64 items per operation and every consumer or stage takes all
// that is available (lockstep: the whole range the barrier reports; moodycamel:
// try_dequeue_bulk in chunks of kDrainMax; mutex_deque: swaps the whole deque out).
//
// Each iteration moves kItemsPerIteration items through threads started for that
// iteration (setup and teardown of the structure are outside the timed region; thread
// start and join are inside, and are negligible at this size). The sink checks that every
// item arrives exactly once and in its producer's order; relay stages check a sum. Every
// kLatencySampleEvery-th item carries the time it was handed over, and the sink records
// now - sent into a Histogram: p50_ns / p99_ns / p999_ns. These runs saturate the
// pipeline, so the latencies are mostly queueing delay behind a full ring or queue.
//
// xcore_rtt_ns: before each benchmark, two threads pinned to the two CPUs bounce a cache
// line and report the round trip. On a VM the host places the vCPUs (same core complex:
// ~65 ns here; apart: ~330 ns) and may move them mid-run; every throughput figure moves
// with it, so compare implementations only at a similar xcore_rtt_ns.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <concurrentqueue/concurrentqueue.h>
#include <pthread.h>
#include <sched.h>

#include "base/clock.h"
#include "pipeline/busy_spin_wait.h"
#include "pipeline/claim.h"
#include "pipeline/constants.h"
#include "pipeline/cpu_relax.h"
#include "pipeline/histogram.h"
#include "pipeline/hybrid_wait.h"
#include "pipeline/multi_producer_sequencer.h"
#include "pipeline/ring_buffer.h"
#include "pipeline/sequence.h"
#include "pipeline/sequence_barrier.h"
#include "pipeline/single_producer_sequencer.h"
#include "pipeline/thread_layout.h"
#include "pipeline/wait_strategy.h"

namespace {

using lockstep::Claim;
using lockstep::monotonic_now_ns;
using lockstep::Sequence;
using lockstep::WaitResult;

// ---- Workload limits ---------------------------------------------------------------------

// Bound of every implementation: ring slots, queue capacity, deque cap.
constexpr std::int64_t kRingCapacity = 65536;
// Items moved per iteration, split evenly between producers (3 << 20: divisible by 3
// producers and by the largest batch).
constexpr std::int64_t kItemsPerIteration = std::int64_t{3} << 20;
// The largest producer batch (batch:N argument).
constexpr std::int64_t kBatchMax = 64;
// Every this-many-th item of a producer carries a send timestamp.
constexpr std::int64_t kLatencySampleEvery = 64;
// moodycamel bulk dequeues take at most this many items per call.
constexpr std::size_t kDrainMax = 1024;
// Item::value = producer << kProducerShift | index within that producer.
constexpr int kProducerShift = 40;
constexpr std::int64_t kIndexMask = (std::int64_t{1} << kProducerShift) - 1;
// An iteration still running after this long has lost or duplicated items: it is
// stopped (halt/alert/abort flag) and reported as an error rather than hanging.
constexpr std::chrono::seconds kWatchdog{30};

static_assert(kItemsPerIteration % (3 * kBatchMax) == 0);
static_assert(kItemsPerIteration <= kIndexMask);
static_assert(kBatchMax <= kRingCapacity && kDrainMax <= kRingCapacity);

// The unit of work. sent_ns is 0 on unsampled items.
struct Item {
  std::int64_t value = 0;
  std::int64_t sent_ns = 0;
};

// ---- lockstep ----------------------------------------------------------------------------

// P producers feeding H stages chained on one ring. Stage k's barrier follows stage k-1
// (stage 0 follows the sequencer); the sequencer is gated by the last stage. Nothing is
// copied between stages: each reads the slot in place and publishes its own sequence.
template <lockstep::WaitStrategy W, int P, int H>
class LockstepPipe {
 public:
  using Sequencer = std::conditional_t<(P > 1), lockstep::MultiProducerSequencer<W>,
                                       lockstep::SingleProducerSequencer<W>>;

  explicit LockstepPipe(std::int64_t capacity) : ring_(capacity), sequencer_(capacity, wait_) {
    for (int k = 0; k < H; ++k) {
      const Sequence* upstream = k == 0 ? nullptr : &hops_[k - 1]->sequence;
      hops_[k] = std::make_unique<Hop>(
          sequencer_, std::span<const Sequence* const>(&upstream, upstream == nullptr ? 0 : 1));
    }
    sequencer_.add_gating_sequence(hops_[H - 1]->sequence);
  }

  // Producer thread: claims `n` slots (waiting for room), fills each with fill(slot, j),
  // publishes them. False once abort() halted the sequencer.
  template <class Fill>
  bool publish(int /*producer*/, std::int64_t n, Fill&& fill) {
    const Claim claim = sequencer_.claim(n);
    if (!claim) return false;
    for (std::int64_t s = claim.first; s <= claim.last; ++s) fill(ring_[s], s - claim.first);
    sequencer_.publish(claim.first, claim.last);
    return true;
  }

  // Stage k's thread: calls f on up to `max` available slots, in order, then publishes
  // the stage's sequence past them. Returns how many it took (0: nothing available).
  // The barrier is re-read only when the range it last reported is used up, as the
  // Disruptor's batch processor does (for a multi-producer ring that read also scans
  // the availability markers, so it must not be repeated per item).
  template <class F>
  std::int64_t poll(int k, std::int64_t max, F&& f) {
    Hop& hop = *hops_[k];
    const std::int64_t next = hop.sequence.get_owned() + 1;
    if (hop.known_available < next) {
      hop.known_available = hop.barrier.available(next);
      if (hop.known_available < next) return 0;
    }
    const std::int64_t last = std::min(hop.known_available, next + max - 1);
    for (std::int64_t s = next; s <= last; ++s) f(std::as_const(ring_[s]));
    wait_.publish(hop.sequence, last);
    return last - next + 1;
  }

  // Stage k's thread, after a pass that found no work: waits through the wait strategy
  // until stage k has some. False once abort() alerted the barrier.
  bool wait(int k) {
    Hop& hop = *hops_[k];
    const WaitResult result = hop.barrier.wait_for(hop.sequence.get_owned() + 1);
    if (!result) return false;
    hop.known_available = result.available;
    return true;
  }

  // Any thread (the watchdog): wakes and stops every producer and stage.
  void abort() noexcept {
    sequencer_.halt();
    for (auto& hop : hops_) hop->barrier.alert();
  }

 private:
  struct Hop {
    Hop(Sequencer& sequencer, std::span<const Sequence* const> upstream)
        : barrier(sequencer, upstream) {}
    Sequence sequence;  // how far this stage has got; read by the next stage or gating
    lockstep::SequenceBarrier<Sequencer> barrier;
    std::int64_t known_available = Sequence::kInitial;  // stage thread only
  };

  W wait_;
  lockstep::RingBuffer<Item> ring_;
  Sequencer sequencer_;
  std::array<std::unique_ptr<Hop>, H> hops_;
};

// ---- Queue baselines ---------------------------------------------------------------------
//
// A queue offers: Buffer (what a consumer drains into), ProducerToken/ConsumerToken, an
// all-or-nothing try_push of n items, and try_pop of up to `max` items into an empty
// Buffer. Neither call blocks.

// A fixed array the moodycamel consumer drains into.
class ItemBatch {
 public:
  ItemBatch() : items_(kDrainMax) {}
  Item* data() noexcept { return items_.data(); }
  Item* begin() noexcept { return items_.data(); }
  Item* end() noexcept { return items_.data() + size_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  void set_size(std::size_t n) noexcept { size_ = n; }
  void clear() noexcept { size_ = 0; }

 private:
  std::vector<Item> items_;
  std::size_t size_ = 0;
};

// moodycamel::ConcurrentQueue with explicit tokens. try_enqueue never allocates, so the
// queue is bounded by the blocks a producer owns. The constructor preallocates blocks
// for `capacity` items per producer, but a fresh producer's block index holds only 32
// blocks (1024 items); so each producer token is warmed up once, untimed, by enqueueing
// `capacity` items (growing its index and block ring) and draining them. After that it
// holds up to ~`capacity` items and never allocates.
class MoodycamelQueue {
 public:
  using Buffer = ItemBatch;
  using ProducerToken = moodycamel::ProducerToken;
  using ConsumerToken = moodycamel::ConsumerToken;

  MoodycamelQueue(std::int64_t capacity, int producers)
      : capacity_(capacity),
        queue_(static_cast<std::size_t>(capacity), static_cast<std::size_t>(producers), 0) {}

  ProducerToken make_producer_token() {
    ProducerToken token(queue_);
    for (std::int64_t i = 0; i < capacity_; ++i) (void)queue_.enqueue(token, Item{});
    Item drained;
    while (queue_.try_dequeue_from_producer(token, drained)) {
    }
    return token;
  }
  ConsumerToken make_consumer_token() { return ConsumerToken(queue_); }

  // GCC 12 reports a false -Wstringop-overflow inside moodycamel's enqueue_bulk (it
  // assumes the token's producer pointer may be null); the pragma silences just that.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
  bool try_push(ProducerToken& token, const Item* first, std::size_t n) {
    return n == 1 ? queue_.try_enqueue(token, *first) : queue_.try_enqueue_bulk(token, first, n);
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  std::size_t try_pop(ConsumerToken& token, Buffer& out, std::size_t max) {
    const std::size_t n =
        max == 1 ? (queue_.try_dequeue(token, *out.data()) ? 1 : 0)
                 : queue_.try_dequeue_bulk(token, out.data(), std::min(max, kDrainMax));
    out.set_size(n);
    return n;
  }

 private:
  const std::int64_t capacity_;
  moodycamel::ConcurrentQueue<Item> queue_;
};

// std::deque under a std::mutex, refusing a push that would exceed `capacity` (the
// producer then spins). A bulk pop swaps the whole deque out under the lock.
class MutexDequeQueue {
 public:
  using Buffer = std::deque<Item>;
  struct ProducerToken {};
  struct ConsumerToken {};

  MutexDequeQueue(std::int64_t capacity, int /*producers*/)
      : capacity_(static_cast<std::size_t>(capacity)) {}

  ProducerToken make_producer_token() { return {}; }
  ConsumerToken make_consumer_token() { return {}; }

  template <class It>
  bool try_push(ProducerToken& /*token*/, It first, std::size_t n) {
    const std::lock_guard lock(mutex_);
    if (items_.size() + n > capacity_) return false;
    items_.insert(items_.end(), first, first + static_cast<std::ptrdiff_t>(n));
    return true;
  }
  // REQUIRES: out is empty.
  std::size_t try_pop(ConsumerToken& /*token*/, Buffer& out, std::size_t max) {
    const std::lock_guard lock(mutex_);
    if (items_.empty()) return 0;
    if (max == 1) {
      out.push_back(items_.front());
      items_.pop_front();
    } else {
      out.swap(items_);
    }
    return out.size();
  }

 private:
  const std::size_t capacity_;
  std::mutex mutex_;
  std::deque<Item> items_;
};

// P producers feeding H stages through H chained queues (queue 0 has P producers, the
// others one). The same interface as LockstepPipe, so the harness is shared.
template <class Q, int P, int H>
class QueuePipe {
 public:
  explicit QueuePipe(std::int64_t capacity) {
    for (int k = 0; k < H; ++k) queues_[k] = std::make_unique<Q>(capacity, k == 0 ? P : 1);
    for (int p = 0; p < P; ++p) producer_tokens_.push_back(queues_[0]->make_producer_token());
    for (int k = 0; k < H; ++k) {
      hops_[k] = std::make_unique<Hop>(*queues_[k], k + 1 < H ? queues_[k + 1].get() : nullptr);
    }
  }

  // Producer thread: fills n items into a local batch and pushes them as one operation,
  // spinning while the queue is full. The batch is refilled before every attempt so the
  // sampled timestamp is taken when the item is offered, as lockstep stamps it after
  // its claim succeeded. False once abort() was called.
  template <class Fill>
  bool publish(int producer, std::int64_t n, Fill&& fill) {
    std::array<Item, kBatchMax> batch;
    for (;;) {
      for (std::int64_t j = 0; j < n; ++j) fill(batch[static_cast<std::size_t>(j)], j);
      if (queues_[0]->try_push(producer_tokens_[static_cast<std::size_t>(producer)], batch.data(),
                               static_cast<std::size_t>(n))) {
        return true;
      }
      if (aborted()) return false;
      lockstep::cpu_relax();
    }
  }

  // Stage k's thread: forwards any items left over from the last poll (the next queue
  // was full), then takes up to `max` items, calls f on each, and forwards them to the
  // next queue (the last stage just drops them). Returns items taken plus forwarded:
  // 0 means this stage could do nothing.
  template <class F>
  std::int64_t poll(int k, std::int64_t max, F&& f) {
    Hop& hop = *hops_[k];
    std::int64_t progress = 0;
    if (!hop.pending.empty()) {
      if (!forward(hop)) return 0;
      progress += 1;
    }
    const std::size_t n = hop.in.try_pop(hop.in_token, hop.pending, static_cast<std::size_t>(max));
    if (n == 0) return progress;
    for (const Item& item : hop.pending) f(item);
    if (hop.out == nullptr) {
      hop.pending.clear();
    } else {
      (void)forward(hop);  // if the next queue is full, the items stay pending
    }
    return progress + static_cast<std::int64_t>(n);
  }

  // After a pass that found no work: spin once. False once abort() was called.
  bool wait(int /*k*/) {
    if (aborted()) return false;
    lockstep::cpu_relax();
    return true;
  }

  void abort() noexcept { abort_.store(true, std::memory_order_relaxed); }

 private:
  struct Hop {
    Hop(Q& in_queue, Q* out_queue)
        : in(in_queue), out(out_queue), in_token(in_queue.make_consumer_token()) {
      if (out != nullptr) out_token.emplace(out->make_producer_token());
    }
    Q& in;
    Q* out;  // null for the last stage
    typename Q::ConsumerToken in_token;
    std::optional<typename Q::ProducerToken> out_token;
    typename Q::Buffer pending;  // taken from `in`, not yet pushed to `out`
  };

  static bool forward(Hop& hop) {
    if (!hop.out->try_push(*hop.out_token, hop.pending.begin(), hop.pending.size())) return false;
    hop.pending.clear();
    return true;
  }

  // Relaxed: a stop request only; the threads are joined afterwards, which orders
  // everything else.
  bool aborted() const noexcept { return abort_.load(std::memory_order_relaxed); }

  std::array<std::unique_ptr<Q>, H> queues_;
  std::vector<typename Q::ProducerToken> producer_tokens_;
  std::array<std::unique_ptr<Hop>, H> hops_;
  std::atomic<bool> abort_{false};
};

// ---- Implementations ---------------------------------------------------------------------

struct LockstepSpin {
  static constexpr const char* kName = "lockstep_spin";
  static constexpr const char* kWait = "busy-spin";
  template <int P, int H>
  using Pipe = LockstepPipe<lockstep::BusySpinWait, P, H>;
};

struct LockstepHybrid {
  static constexpr const char* kName = "lockstep_hybrid";
  static constexpr const char* kWait = "hybrid (spin, yield, futex park)";
  template <int P, int H>
  using Pipe = LockstepPipe<lockstep::HybridWait, P, H>;
};

struct MoodycamelCq {
  static constexpr const char* kName = "moodycamel_cq";
  static constexpr const char* kWait = "spin (cpu_relax)";
  template <int P, int H>
  using Pipe = QueuePipe<MoodycamelQueue, P, H>;
};

struct MutexDeque {
  static constexpr const char* kName = "mutex_deque";
  static constexpr const char* kWait = "spin (cpu_relax)";
  template <int P, int H>
  using Pipe = QueuePipe<MutexDequeQueue, P, H>;
};

// ---- Harness -----------------------------------------------------------------------------

// The sink: checks that each producer's items arrive exactly once and in order, and
// records the handoff latency of sampled items. Sink thread only.
class Sink {
 public:
  Sink(int producers, std::int64_t per_producer, lockstep::Histogram& latency_ns)
      : next_(static_cast<std::size_t>(producers), 0),
        per_producer_(per_producer),
        latency_ns_(latency_ns) {}

  void operator()(const Item& item) noexcept {
    const std::int64_t producer = item.value >> kProducerShift;
    const std::int64_t index = item.value & kIndexMask;
    if (producer < 0 || producer >= static_cast<std::int64_t>(next_.size()) ||
        next_[static_cast<std::size_t>(producer)] != index) {
      in_order_ = false;
    } else {
      ++next_[static_cast<std::size_t>(producer)];
    }
    ++received_;
    if (item.sent_ns != 0) latency_ns_.record(monotonic_now_ns() - item.sent_ns);
  }

  std::int64_t received() const noexcept { return received_; }
  // After the run: every item of every producer arrived, once, in order.
  bool complete() const noexcept {
    return in_order_ && std::all_of(next_.begin(), next_.end(),
                                    [this](std::int64_t n) { return n == per_producer_; });
  }

 private:
  std::vector<std::int64_t> next_;  // per producer: the index expected next
  const std::int64_t per_producer_;
  lockstep::Histogram& latency_ns_;
  std::int64_t received_ = 0;
  bool in_order_ = true;
};

// Lets the benchmark thread wait for the workers with a timeout (the watchdog).
class Finish {
 public:
  void arrive() {
    {
      const std::lock_guard lock(mutex_);
      ++arrived_;
    }
    cv_.notify_one();
  }
  bool wait_for(int count, std::chrono::seconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return arrived_ == count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int arrived_ = 0;
};

// One iteration: P producer threads and one thread that polls stages 0..H-1 in turn
// (stages 0..H-2 relay; with relay_reads they also sum the values they see; stage H-1 is
// the sink). Returns an error message, or nullptr if every item arrived as it should.
template <class Pipe, int P, int H>
const char* run_iteration(Pipe& pipe, std::int64_t batch, bool relay_reads,
                          lockstep::Histogram& latency_ns) {
  constexpr std::int64_t kPerProducer = kItemsPerIteration / P;
  const std::int64_t take_max = batch == 1 ? 1 : kRingCapacity;
  Sink sink(P, kPerProducer, latency_ns);
  std::array<std::uint64_t, H> relay_sums{};
  std::array<bool, P + 1> thread_ok{};
  Finish finish;

  std::vector<std::thread> threads;
  for (int p = 0; p < P; ++p) {
    threads.emplace_back([&, p] {
      const std::int64_t tag = std::int64_t{p} << kProducerShift;
      bool ok = true;
      for (std::int64_t i = 0; ok && i < kPerProducer; i += batch) {
        ok = pipe.publish(p, batch, [i, tag](Item& item, std::int64_t j) {
          const std::int64_t index = i + j;
          item.value = tag | index;
          item.sent_ns = index % kLatencySampleEvery == 0 ? monotonic_now_ns() : 0;
        });
      }
      thread_ok[static_cast<std::size_t>(p)] = ok;
      finish.arrive();
    });
  }
  threads.emplace_back([&] {
    bool ok = true;
    while (ok && sink.received() < kItemsPerIteration) {
      std::int64_t progress = 0;
      for (int k = 0; k + 1 < H; ++k) {
        std::uint64_t& sum = relay_sums[static_cast<std::size_t>(k)];
        if (relay_reads) {
          progress += pipe.poll(k, take_max, [&sum](const Item& item) {
            sum += static_cast<std::uint64_t>(item.value);
          });
        } else {
          // Hand-off only: a lockstep stage that needs nothing from the slot does not
          // touch it; a queue stage still has to move the item to the next queue.
          progress += pipe.poll(k, take_max, [](const Item&) {});
        }
      }
      progress += pipe.poll(H - 1, take_max, sink);
      // Nothing anywhere: later stages only wait on earlier ones, so new work can only
      // arrive at stage 0.
      if (progress == 0) ok = pipe.wait(0);
    }
    thread_ok[P] = ok;
    finish.arrive();
  });

  const bool in_time = finish.wait_for(P + 1, kWatchdog);
  if (!in_time) pipe.abort();
  for (std::thread& t : threads) t.join();

  if (!in_time) return "watchdog: iteration did not finish (items lost or duplicated?)";
  if (!std::all_of(thread_ok.begin(), thread_ok.end(), [](bool ok) { return ok; })) {
    return "a worker thread was halted";
  }
  if (!sink.complete()) return "sink: items missing, duplicated or out of producer order";
  // Relays (1 producer only) must each have seen 0 + 1 + ... + (n - 1).
  const auto n = static_cast<std::uint64_t>(kItemsPerIteration);
  for (int k = 0; relay_reads && k + 1 < H; ++k) {
    if (relay_sums[static_cast<std::size_t>(k)] != n * (n - 1) / 2) return "relay: bad sum";
  }
  return nullptr;
}

// Pins the calling thread to `cpu`; false if the kernel refuses.
bool pin_self(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}

// The round trip of one cache line between two threads pinned to the first two CPUs this
// process may use, in ns; 0 if there are fewer than two. Measured (untimed) before every
// benchmark and reported as `xcore_rtt_ns`: on a VM the host may move the vCPUs between
// runs (SMT siblings, one core complex, two), which moves every figure of the run with
// it; this says which placement a result saw. Each probe thread pins itself: pinning a
// std::thread from outside (pthread_setaffinity_np on its handle) after it has already
// exited would pin the caller instead, because glibc then passes tid 0 to the kernel.
double cross_core_rtt_ns() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return 0;
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE && cpus.size() < 2; ++cpu) {
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  }
  if (cpus.size() < 2) return 0;

  constexpr int kWarmupRounds = 2000;
  constexpr int kRounds = 20000;
  // Odd values are pings, even values pongs. Release/acquire: each side's store is the
  // only thing the other waits for.
  struct alignas(lockstep::kFalseSharingBytes) Ball {
    std::atomic<int> value{0};
  } ball;
  std::int64_t elapsed_ns = 0;
  std::thread pong([&] {
    (void)pin_self(cpus[1]);
    for (int i = 0; i < kWarmupRounds + kRounds; ++i) {
      while (ball.value.load(std::memory_order_acquire) != 2 * i + 1) lockstep::cpu_relax();
      ball.value.store(2 * i + 2, std::memory_order_release);
    }
  });
  std::thread ping([&] {
    (void)pin_self(cpus[0]);  // unpinned, two spinning threads still take both idle CPUs
    std::int64_t start_ns = 0;
    for (int i = 0; i < kWarmupRounds + kRounds; ++i) {
      if (i == kWarmupRounds) start_ns = monotonic_now_ns();
      ball.value.store(2 * i + 1, std::memory_order_release);
      while (ball.value.load(std::memory_order_acquire) != 2 * i + 2) lockstep::cpu_relax();
    }
    elapsed_ns = monotonic_now_ns() - start_ns;
  });
  ping.join();
  pong.join();
  return static_cast<double>(elapsed_ns) / kRounds;
}

template <class Impl, int P, int H>
void run_benchmark(benchmark::State& state, const std::string& layout) {
  const std::int64_t batch = state.range(0);
  const bool relay_reads = H == 1 || state.range(1) != 0;
  if (batch < 1 || batch > kBatchMax || kItemsPerIteration / P % batch != 0) {
    state.SkipWithError("batch must be in [1, 64] and divide the items per producer");
    return;
  }
  state.SetLabel(layout + "; wait: " + Impl::kWait);
  const double rtt_ns = cross_core_rtt_ns();
  lockstep::Histogram latency_ns;
  using Pipe = typename Impl::template Pipe<P, H>;

  for (auto _ : state) {
    state.PauseTiming();  // construction (ring, sequencer, queues, warm-up) is not timed
    auto pipe = std::make_unique<Pipe>(kRingCapacity);
    state.ResumeTiming();

    const char* error = run_iteration<Pipe, P, H>(*pipe, batch, relay_reads, latency_ns);

    state.PauseTiming();
    pipe.reset();
    state.ResumeTiming();
    if (error != nullptr) {
      state.SkipWithError(error);
      break;
    }
  }

  state.SetItemsProcessed(state.iterations() * kItemsPerIteration);
  const lockstep::HistogramSnapshot latency = latency_ns.snapshot();
  state.counters["p50_ns"] = static_cast<double>(latency.value_at_percentile(50.0));
  state.counters["p99_ns"] = static_cast<double>(latency.value_at_percentile(99.0));
  state.counters["p999_ns"] = static_cast<double>(latency.value_at_percentile(99.9));
  state.counters["xcore_rtt_ns"] = rtt_ns;
}

// Repetition aggregates beside Google Benchmark's mean/median/stddev: min/max show when
// the repetitions of one benchmark straddle two vCPU placements (see xcore_rtt_ns) or two
// regimes (consumer far behind a full ring, or caught up and taking items as they come).
double statistic_min(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }
double statistic_max(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); }

// Every topology runs batch:1 and batch:64. Pipelines (H > 1) also run relay_reads:0,
// where the relay stages only hand the slot on: the cost of the pipeline machinery
// itself, against relay_reads:1, where each relay stage also reads every item.
template <int P, int H, class Impl>
void register_one(const std::string& topology, const std::string& layout) {
  benchmark::internal::Benchmark* b = benchmark::RegisterBenchmark(
      (topology + "/" + Impl::kName).c_str(),
      [layout](benchmark::State& state) { run_benchmark<Impl, P, H>(state, layout); });
  b->ArgNames({"batch", "relay_reads"});
  b->Args({1, 1});
  b->Args({kBatchMax, 1});
  if (H > 1) b->Args({kBatchMax, 0});
  b->UseRealTime()
      ->Unit(benchmark::kMillisecond)
      ->ComputeStatistics("min", &statistic_min)
      ->ComputeStatistics("max", &statistic_max);
}

// Every topology runs batch:1 and batch:64. Pipelines (H > 1) also run relay_reads:0,
// where the relay stages only hand the slot on: the cost of the pipeline machinery
// itself, against relay_reads:1, where each relay stage also reads every item.
template <int P, int H, class... Impls>
void register_topology(const std::string& topology, const std::string& layout) {
  (register_one<P, H, Impls>(topology, layout), ...);
}

void record_setup() {
  benchmark::AddCustomContext("usable_cpus", std::to_string(lockstep::usable_cpu_count()));
  benchmark::AddCustomContext("cpu_pinning", "none (threads float; the OS schedules them)");
  benchmark::AddCustomContext("ring_capacity",
                              std::to_string(kRingCapacity) +
                                  " (lockstep ring; moodycamel_cq: per producer sub-queue; "
                                  "mutex_deque: cap)");
  benchmark::AddCustomContext("items_per_iteration", std::to_string(kItemsPerIteration));
  benchmark::AddCustomContext("latency_sample_every", std::to_string(kLatencySampleEvery));
  benchmark::AddCustomContext(
      "batch",
      "1: one item per handoff; 64: producer hands 64 per operation, consumers take "
      "all available (moodycamel: chunks of " +
          std::to_string(kDrainMax) + ")");
  benchmark::AddCustomContext("wait",
                              "lockstep_spin: BusySpinWait; lockstep_hybrid: HybridWait "
                              "(512 spins, 16 yields, futex); baselines: spin with cpu_relax");
  benchmark::AddCustomContext("moodycamel_rwq",
                              "not built: readerwriterqueue.h is not installed "
                              "(libconcurrentqueue-dev ships only ConcurrentQueue)");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  record_setup();
  register_topology<1, 1, LockstepSpin, LockstepHybrid, MoodycamelCq, MutexDeque>(
      "BM_1P1C", "threads: producer | consumer");
  register_topology<1, 3, LockstepSpin, LockstepHybrid, MoodycamelCq, MutexDeque>(
      "BM_1P3Stage", "threads: producer | stages 1,2,3 polled round-robin by one thread");
  register_topology<3, 1, LockstepSpin, LockstepHybrid, MoodycamelCq, MutexDeque>(
      "BM_3P1C", "threads: 3 producers | consumer (4 threads on " +
                     std::to_string(lockstep::usable_cpu_count()) + " cpus)");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
