// The dimension bank: the per-tick state of many dimensions in
// struct-of-arrays form, and the one call per tick that turns their values
// into storage words.
//
// Slots. A slot is one dimension. Slots are numbered 0..size()-1; add_slot()
// reuses the lowest free slot (incrementing its generation) or appends one;
// remove_slot() frees a slot without touching any other. A tick takes one
// value per slot (free slots are ignored and yield the empty word).
//
// Per slot and tick (SPEC §4.5, DESIGN §5): push the value into the slot's
// prediction window (the last D + S + L raw values), build the feature vector
// (equal bit for bit to the last row of extract_features over the window),
// score it against the slot's model (equal bit for bit to Model::score),
// decide the anomaly bit (score >= 100 * threshold) and pack the storage word
// (pack_sample). An untrained slot scores 0. NaN clears the window and yields
// the empty word; inf or a magnitude beyond the storage word's range
// (1.6777215e21) is stored saturated by pack and also clears the window. A
// slot is normal (score 0) until its window holds D + S + L values again.
//
// Layout. Slots are grouped in blocks of kLanes; a block keeps, lane-minor,
// the prediction windows as a ring shared by all slots (every tick writes
// one row), the two centres and the distance range, so the tick streams
// through memory once and works on kLanes slots at a time. Blocks live in
// fixed-size chunks that are never moved, so adding slots never copies the
// state of others. The tick scores a group of blocks, then packs the group's
// words at once (pack_flagged), and asks for the state of a block three blocks
// before it is scored.
//
// Kernels. The per-block kernel is built twice: for the x86-64 baseline
// (SSE2) and, with GCC or Clang on x86-64, for AVX2, chosen at run time
// (BankParams::kernel). Both perform the same IEEE operations in the same
// order, without contraction, so their results are identical.
//
// Models. Training (trainer.hpp) runs on other threads and never writes a
// slot: it queues finished models with the generation each slot had when
// training began. The tick applies queued models at its start and drops any
// whose slot was removed or reused since (generation check). The queue is
// guarded by a mutex; the tick looks at an atomic flag and takes that mutex
// only when models are pending, so it never waits for training.
//
// Threads. Every public member is safe to call from any thread: structural
// changes and the tick are serialised by one mutex taken once per call (the
// per-slot loop itself takes no lock), and enqueue_models() only touches the
// queue. The tick allocates nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "pyml/features.hpp"
#include "pyml/model.hpp"
#include "pyml/storage_number.hpp"

namespace pyml {

// The largest magnitude a storage word holds; beyond it pack saturates and
// the bank treats the value as a gap for the model.
inline constexpr double kMaxStorableMagnitude = 1.6777215e21;

// The build of the tick's kernel a bank runs: the x86-64 baseline (SSE2,
// two lanes per instruction) or AVX2 (four), which has the same operations
// in the same order and so identical results. `best` takes AVX2 when the
// processor has it; the others are for tests and measurements.
enum class BankKernel { best, baseline, avx2 };

// Whether this processor (and build) can run BankKernel::avx2.
bool bank_avx2_available() noexcept;

struct BankParams {
    FeatureParams features;
    double threshold = 0.99;  // dimension_anomaly_score_threshold: bit if score >= 100 * threshold
    BankKernel kernel = BankKernel::best;
};

// Throws std::invalid_argument naming the value for feature parameters out of
// range, a threshold that is negative or not finite, or BankKernel::avx2 on a
// processor without AVX2.
void validate_bank_params(const BankParams& p);

// A finished model waiting for the tick, tagged with the generation its slot
// had when training began. Fixed size: applying it allocates nothing.
struct QueuedModel {
    std::size_t slot = 0;
    std::uint32_t generation = 0;
    double centers[2 * kMaxFeatureDims] = {};  // centre 0 then centre 1, `dims` each
    double min_dist = 0.0, max_dist = 0.0;
};

class Bank {
public:
    static constexpr std::size_t kLanes = 8;           // slots per block
    static constexpr std::size_t kBlocksPerChunk = 64;  // 512 slots per chunk

    // `capacity` reserves room for that many slots up front.
    explicit Bank(const BankParams& params = {}, std::size_t capacity = 0);
    ~Bank();
    Bank(const Bank&) = delete;
    Bank& operator=(const Bank&) = delete;

    const BankParams& params() const noexcept { return params_; }
    std::size_t window() const noexcept { return window_; }      // D + S + L
    BankKernel kernel() const noexcept { return kernel_kind_; }  // baseline or avx2, never best
    std::size_t dims() const noexcept { return dims_; }          // L + 1

    // Number of slots, free ones included: the length a tick takes.
    std::size_t size() const;
    // Number of slots in use.
    std::size_t active() const;

    // A fresh slot (empty window, no model): the lowest free slot, whose
    // generation is incremented, or a new slot with generation 0.
    std::size_t add_slot();
    // Frees a slot (its model and window are dropped). Throws
    // std::out_of_range naming the slot if it is not in use.
    void remove_slot(std::size_t slot);

    // Whether `slot` is in use (false for any number out of range).
    bool contains(std::size_t slot) const;
    // Throws std::out_of_range naming the slot unless it is in use.
    std::uint32_t generation(std::size_t slot) const;
    bool trained(std::size_t slot) const;
    // The slot's model, or nothing before its first model.
    std::optional<Model> model(std::size_t slot) const;
    // Replaces the slot's model now (restoring a persisted model). Throws
    // std::out_of_range for a slot not in use and std::invalid_argument for a
    // model that does not have 2 centres of dims() coordinates. A model queued
    // by training before this call still replaces it at the next tick.
    void set_model(std::size_t slot, const Model& model);
    // Forgets the slot's model (it scores 0 until the next one).
    void clear_model(std::size_t slot);
    // trained(slot) for slots 0..n-1 (false for free ones and beyond size()).
    void trained_mask(std::uint8_t* out, std::size_t n) const;
    std::size_t trained_count() const;

    // One tick. values: n == size() doubles. reset: nullptr (no reset flag) or
    // flags read with stride 0 (one for all) or 1. words: n words out. bits
    // (1 = anomalous) and scores: optional outputs (nullptr to skip). Free
    // slots give the empty word, bit 0 and score 0. Throws
    // std::invalid_argument if n != size() (then nothing changes).
    void tick(const double* values, std::size_t n, const std::uint8_t* reset, std::size_t reset_stride,
              storage_word* words, std::uint8_t* bits, double* scores);

    // Generation of each slot, checking that every slot is in use; throws
    // std::out_of_range naming the first slot that is not (nothing changes).
    std::vector<std::uint32_t> generations_of(const std::vector<std::size_t>& slots) const;
    // Queues finished models for the next tick; safe from any thread.
    void enqueue_models(const QueuedModel* models, std::size_t n);
    // Models queued and not yet applied by a tick.
    std::size_t pending_models() const;

    // Slots being trained right now by train calls in flight (trainer.hpp).
    std::size_t training_in_progress() const noexcept { return training_.load(std::memory_order_relaxed); }
    void training_started(std::size_t slots) noexcept { training_.fetch_add(slots); }
    void training_finished(std::size_t slots) noexcept { training_.fetch_sub(slots); }

    // Bytes held by the bank: slot state, per-slot arrays, queue capacity.
    std::size_t memory_bytes() const;

private:
    struct ChunkDeleter {
        void operator()(double* p) const noexcept;
    };
    using Chunk = std::unique_ptr<double[], ChunkDeleter>;

    double* block(std::size_t b) const noexcept {
        return chunks_[b / kBlocksPerChunk].get() + (b % kBlocksPerChunk) * block_stride_;
    }
    void check_slot(std::size_t slot) const;  // requires the state lock
    void reset_lane(std::size_t slot) noexcept;
    void write_model(std::size_t slot, const double* centers, double min_dist, double max_dist) noexcept;
    void grow_to(std::size_t slots);
    void apply_pending() noexcept;

    BankParams params_;
    std::size_t window_, dims_, block_stride_;
    double threshold100_;
    using KernelFn = void (*)(double* blk, std::uint8_t* count, const std::uint8_t* flags, const double* values,
                              const std::size_t* ring_rows, double threshold100, double* scores,
                              std::uint8_t* bits, double* to_pack);
    KernelFn kernel_;
    BankKernel kernel_kind_;

    mutable std::mutex state_mutex_;
    std::vector<Chunk> chunks_;
    std::size_t size_ = 0, active_ = 0, trained_ = 0;
    std::vector<std::uint8_t> count_;   // consecutive window values, per lane of every block
    std::vector<std::uint8_t> flags_;   // kActive | kTrained, per lane
    std::vector<std::uint32_t> generation_;  // per slot
    std::size_t free_hint_ = 0;         // no free slot below this one
    std::size_t ring_head_ = 0;         // ring row the last tick wrote

    mutable std::mutex queue_mutex_;
    std::atomic<bool> pending_{false};
    std::vector<QueuedModel> queue_, applying_;
    std::atomic<std::size_t> training_{0};
};

}  // namespace pyml
