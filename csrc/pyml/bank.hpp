// The dimension bank: the per-tick state of many dimensions in
// struct-of-arrays form, and the one call per tick that turns their values
// into storage words.
//
// Slots. A slot is one dimension. Slots are numbered 0..size()-1; add_slot()
// reuses the lowest free slot (incrementing its generation) or appends one;
// remove_slot() frees a slot without touching any other. A tick takes one
// value per slot (free slots are ignored and yield the empty word).
//
// Per slot and tick (SPEC §4.5, SPEC-NETDATA-2 §5, DESIGN §5): push the value
// into the slot's prediction window (the last D + S + L raw values), build
// the feature vector (BankParams::variant: v1 equals the last row of
// extract_features over the window, v2 the one row of extract_features_v2
// over it), let the slot's models vote, decide the anomaly bit and pack the
// storage word (pack_sample). NaN clears the window and yields the empty
// word; inf or a magnitude beyond the storage word's range (1.6777215e21) is
// stored saturated by pack and also clears the window. A slot predicts once
// its window holds D + S + L values (v1) or on the next value after that
// (v2, Netdata's (n+1)-th value); until then, without a model, or while
// silenced it is normal with score 0.
//
// Models and the vote. A slot holds up to BankParams::models models, oldest
// first, each with the time range it was trained on (after, before; epoch
// seconds). A new model joins by Netdata's ring rule (ring_action below).
// The vote visits the models oldest to newest: a NaN score is skipped, the
// first score below 100 * threshold ends it as normal; otherwise the slot is
// anomalous iff some score was not NaN. The score a slot reports is the one
// that ended the vote, else the lowest score of the models consulted (0
// without a prediction or a model). With one model this is the plain
// threshold of v1.33. `models_consulted()` counts models visited.
//
// Suppression (SPEC-NETDATA-2 §6, BankParams::suppression_*; 0 = off): per
// slot, predictions since the last reset and anomalous ones among them; after
// a prediction whose vote did not end as normal, a slot with at least
// `threshold` anomalous of at least `window` predictions becomes SILENCED:
// normal from its next prediction on, counting nothing, until a model is
// installed (or a training keeps too few vectors).
//
// Status (per slot, status()): ACTIVE, TRAINED (holds a model, or Netdata's
// "< 2 vectors" state), SILENCED, VARIABLE (the value changed at a prediction
// since the last training attempt; Netdata's metric type).
//
// Layout. Slots are grouped in blocks of kLanes; a block keeps, lane-minor,
// the prediction windows as a ring shared by all slots (every tick writes
// one row) and the first (oldest) model: its two centres and distance range,
// so the tick streams through memory once and works on kLanes slots at a
// time. With more than one model per slot, every slot also has a cold record
// holding all its models compactly (bank_kernel.hpp: float32 centres, double
// distances, uint32 times); the hot first model is the exact widening of
// its cold copy, so both score alike and models() returns what scores. The
// cold records are read only for slots whose first model does not call the
// vector normal. Blocks and cold records live in fixed-size chunks that are
// never moved, so adding slots never copies the state of others.
//
// The tick, per group of blocks: the block kernel (bank_kernel.hpp) scores
// each block against its first models and sets VARIABLE; then the post-vote
// stage finishes, per slot, what the kernel left open: the rest of the vote
// (the vote kernel, only for slots still undecided), the counters and
// silencing, the models-consulted count; then, with BankParams::calibration
// (calibration.hpp), the calibration stage turns each slot's vote score into
// the score it reports and the bit it stores; then the group's words are
// packed at once (pack_flagged).
//
// Calibration (BankParams::calibration.kind = surprise; none by default): per
// slot, the rule of calibration.hpp over the value (NaN, inf or beyond the
// storable range: a gap), the vote's score and whether the slot was scored
// this tick (a model, a full window, not silenced); its bit is the stored
// anomaly bit and its reported level the tick's score; `levels` may also
// receive the level before the once-per-incident suppression. Suppression
// counts the vote's bits, before calibration. The state (48 bytes per slot)
// is reset when a slot is added or removed, kept across model installs and
// clear_model, and not persisted (a new bank starts every slot from the
// prior).
//
// Kernels. Both kernels are built twice: for the x86-64 baseline (SSE2) and,
// with GCC or Clang on x86-64, for AVX2, chosen at run time
// (BankParams::kernel); they give identical results.
//
// Training (trainer.hpp) runs on other threads and never writes a slot: it
// queues its results (a model with its after/before, or the state change of
// an attempt that gave none) with the generation each slot had when training
// began. The tick applies queued results at its start and drops any whose
// slot was removed or reused since (generation check). The queue is guarded
// by a mutex; the tick looks at an atomic flag and takes that mutex only when
// results are pending, so it never waits for training.
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

#include "pyml/calibration.hpp"
#include "pyml/features.hpp"
#include "pyml/model.hpp"
#include "pyml/storage_number.hpp"

namespace pyml {

// The largest magnitude a storage word holds; beyond it pack saturates and
// the bank treats the value as a gap for the model.
inline constexpr double kMaxStorableMagnitude = 1.6777215e21;

// Models per slot: 1 .. kMaxModels (Netdata's `number of models per dimension`).
inline constexpr std::size_t kMaxModels = 168;

// Per-slot status bits (status()).
inline constexpr std::uint8_t kStatusActive = 0x01;    // slot in use
inline constexpr std::uint8_t kStatusTrained = 0x02;   // holds a model, or trained with too few vectors
inline constexpr std::uint8_t kStatusSilenced = 0x04;  // silenced by noisy-dimension suppression
inline constexpr std::uint8_t kStatusVariable = 0x08;  // value changed at a prediction since the last training attempt

// The build of the tick's kernels a bank runs: the x86-64 baseline (SSE2,
// two lanes per instruction) or AVX2 (four), which has the same operations
// in the same order and so identical results. `best` takes AVX2 when the
// processor has it; the others are for tests and measurements.
enum class BankKernel { best, baseline, avx2 };

// Whether this processor (and build) can run BankKernel::avx2.
bool bank_avx2_available() noexcept;

struct BankParams {
    FeatureParams features;
    double threshold = 0.99;  // dimension_anomaly_score_threshold: a model votes anomalous if score >= 100 * threshold
    BankKernel kernel = BankKernel::best;
    std::size_t models = 1;                         // models per slot, 1..kMaxModels
    FeatureVariant variant = FeatureVariant::v1;    // feature recipe and warm-up
    std::uint32_t suppression_window = 0;           // predictions; 0 with threshold 0: no suppression
    std::uint32_t suppression_threshold = 0;        // anomalous predictions
    CalibrationParams calibration;                  // kind none: the vote's bit and score as they are
};

// Throws std::invalid_argument naming the value for feature parameters out of
// range, a threshold that is negative or not finite, BankKernel::avx2 on a
// processor without AVX2, models outside 1..kMaxModels, a variant that is not
// v1 or v2, a suppression window and threshold that are not both 0 or both
// at least 1, or calibration parameters out of range (calibration.hpp).
void validate_bank_params(const BankParams& p);

namespace bank_detail {  // bank_kernel.hpp
struct BlockOut;
struct VoteOut;
using BlockKernel = void (*)(double* blk, std::uint8_t* count, std::uint8_t* flags, const double* values,
                             const std::size_t* rows, std::size_t prev_row, double threshold100, BlockOut& out);
using VoteKernel = VoteOut (*)(const unsigned char* record, std::size_t held, const double* feature,
                               std::size_t stride, double first, double threshold100);
}  // namespace bank_detail

// Netdata's rule for a new model joining a slot's models (SPEC-NETDATA-2
// §4.1). held models (oldest first, times after[i], before[i]) of at most
// `capacity`: append while held < capacity; else, when capacity > 2 and
// after[held-2] < before[held-1] and before[held-2] > new_after, replace the
// newest; else drop the oldest and append.
enum class RingAction { append, replace_newest, rotate };
RingAction ring_action(std::size_t held, std::size_t capacity, const std::uint32_t* after, const std::uint32_t* before,
                       std::uint32_t new_after) noexcept;

// What a queued training result does at the tick that applies it.
enum class QueuedKind : std::uint8_t {
    model = 0,        // install the model (ring rule): TRAINED, counters reset, SILENCED and VARIABLE cleared
    few_vectors = 1,  // no model (too few vectors): TRAINED, counters reset, SILENCED and VARIABLE cleared
    failed = 2,       // an attempt without a model: counters reset, VARIABLE cleared
};

// A training result waiting for the tick, tagged with the generation its slot
// had when training began. Fixed size: applying it allocates nothing.
struct QueuedModel {
    std::size_t slot = 0;
    std::uint32_t generation = 0;
    QueuedKind kind = QueuedKind::model;
    std::uint32_t after = 0, before = 0;        // the training range, epoch seconds
    double centers[2 * kMaxFeatureDims] = {};  // centre 0 then centre 1, `dims` each
    double min_dist = 0.0, max_dist = 0.0;
};

// One model of a slot with its training range.
struct SlotModel {
    Model model;
    std::uint32_t after = 0, before = 0;
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
    // Consecutive values before the first prediction: window() (v1) or window() + 1 (v2).
    std::size_t warmup() const noexcept { return warm_; }

    // Number of slots, free ones included: the length a tick takes.
    std::size_t size() const;
    // Number of slots in use.
    std::size_t active() const;

    // A fresh slot (empty window, no model, counters 0, status ACTIVE): the
    // lowest free slot, whose generation is incremented, or a new slot with
    // generation 0.
    std::size_t add_slot();
    // Frees a slot (its models and window are dropped). Throws
    // std::out_of_range naming the slot if it is not in use.
    void remove_slot(std::size_t slot);

    // Whether `slot` is in use (false for any number out of range).
    bool contains(std::size_t slot) const;
    // Throws std::out_of_range naming the slot unless it is in use.
    std::uint32_t generation(std::size_t slot) const;
    // Whether the slot holds a model.
    bool trained(std::size_t slot) const;
    // The slot's newest model, or nothing when it holds none.
    std::optional<Model> model(std::size_t slot) const;
    // The slot's models, oldest first, as they score (centres widened from
    // float32 when models > 1).
    std::vector<SlotModel> models(std::size_t slot) const;
    // Replaces the slot's model now: set_models with this one model (times 0).
    void set_model(std::size_t slot, const Model& model);
    // Replaces the slot's models now (restoring persisted ones), oldest first,
    // in this order (no ring rule). An install: TRAINED if any, SILENCED
    // cleared, counters reset; the window and VARIABLE stay. Throws
    // std::out_of_range for a slot not in use and std::invalid_argument for
    // more than params().models models or a model that does not have 2
    // centres of dims() coordinates (then nothing changes). Results queued by
    // training before this call still apply at the next tick.
    void set_models(std::size_t slot, const std::vector<SlotModel>& models);
    // Queues one model for the slot as training does (applied by the next
    // tick with the ring rule; dropped if the slot is removed or reused
    // before). Throws like set_models.
    void queue_model(std::size_t slot, const Model& model, std::uint32_t after, std::uint32_t before);
    // Forgets the slot's models (it scores 0 until the next one; TRAINED cleared).
    void clear_model(std::size_t slot);
    // trained(slot) for slots 0..n-1 (false for free ones and beyond size()).
    void trained_mask(std::uint8_t* out, std::size_t n) const;
    std::size_t trained_count() const;
    // Status bits (kStatus*) of slots 0..n-1 (0 for free slots and beyond size()).
    void status(std::uint8_t* out, std::size_t n) const;
    // Models held by slots 0..n-1.
    void model_counts(std::uint8_t* out, std::size_t n) const;
    // Suppression counters of slots 0..n-1: predictions and anomalous
    // predictions since the last reset (zeros when suppression is off).
    void suppression_counts(std::uint32_t* predictions, std::uint32_t* anomalous, std::size_t n) const;
    // Models visited by votes since the bank was made (Netdata's "models consulted").
    std::uint64_t models_consulted() const;

    // One tick. values: n == size() doubles. reset: nullptr (no reset flag) or
    // flags read with stride 0 (one for all) or 1. words: n words out. bits
    // (1 = anomalous) and scores: optional outputs (nullptr to skip); with
    // calibration, the rule's bit and reported level. levels: optional, only
    // with calibration: the calibrated level before suppression. Free slots
    // give the empty word, bit 0, score 0 and level 0. Throws
    // std::invalid_argument if n != size() or levels without calibration
    // (then nothing changes). day_slot: the tick's slot of the day for the
    // calibration's daily profile (-1: none; calibration.hpp).
    void tick(const double* values, std::size_t n, const std::uint8_t* reset, std::size_t reset_stride,
              storage_word* words, std::uint8_t* bits, double* scores, double* levels = nullptr, int day_slot = -1);
    // The calibration state of slots 0..n-1 (the initial state beyond
    // size()). Throws std::invalid_argument when the bank has no calibration.
    void calibration_state(CalibrationState* out, std::size_t n) const;
    // Gives slots[i] the calibration state states[i], i < n (a state saved
    // before a restart). Throws std::invalid_argument without calibration or
    // for a state the stage refuses (Calibration::check_state), and
    // std::out_of_range for a slot not in use; nothing changes then.
    void set_calibration_state(const std::size_t* slots, const CalibrationState* states, std::size_t n);

    // Generation of each slot, checking that every slot is in use; throws
    // std::out_of_range naming the first slot that is not (nothing changes).
    std::vector<std::uint32_t> generations_of(const std::vector<std::size_t>& slots) const;
    // Status bits of each slot, checking like generations_of.
    std::vector<std::uint8_t> status_of(const std::vector<std::size_t>& slots) const;
    // Queues training results for the next tick; safe from any thread.
    void enqueue_models(const QueuedModel* models, std::size_t n);
    // Models queued and not yet applied by a tick (results without a model not counted).
    std::size_t pending_models() const;
    // Keep per-slot training times from now on (models = 1 keeps none until
    // a model with a time arrives; with more models they are always kept).
    void keep_times();

    // Slots being trained right now by train calls in flight (trainer.hpp).
    std::size_t training_in_progress() const noexcept { return training_.load(std::memory_order_relaxed); }
    void training_started(std::size_t slots) noexcept { training_.fetch_add(slots); }
    void training_finished(std::size_t slots) noexcept { training_.fetch_sub(slots); }

    // Bytes held by the bank: slot state, cold records, per-slot arrays, queue capacity.
    std::size_t memory_bytes() const;

private:
    struct ChunkDeleter {
        void operator()(unsigned char* p) const noexcept;
    };
    using Chunk = std::unique_ptr<unsigned char[], ChunkDeleter>;
    struct Group;

    double* block(std::size_t b) const noexcept {
        return reinterpret_cast<double*>(chunks_[b / kBlocksPerChunk].get()) + (b % kBlocksPerChunk) * block_stride_;
    }
    unsigned char* cold(std::size_t slot) const noexcept {
        return cold_chunks_[slot / (kBlocksPerChunk * kLanes)].get() + (slot % (kBlocksPerChunk * kLanes)) * cold_stride_;
    }
    void check_slot(std::size_t slot) const;  // requires the state lock
    void check_model(const Model& model) const;
    void reset_lane(std::size_t slot) noexcept;
    void write_hot(std::size_t slot, const double* centers, double min_dist, double max_dist) noexcept;
    void clear_hot(std::size_t slot) noexcept;
    void hot_from_cold(std::size_t slot) noexcept;
    void put_cold(std::size_t slot, std::size_t m, const double* centers, double min_dist, double max_dist,
                  std::uint32_t after, std::uint32_t before) noexcept;
    SlotModel get_model(std::size_t slot, std::size_t m) const;
    std::size_t held(std::size_t slot) const noexcept;
    void install(std::size_t slot, const double* centers, double min_dist, double max_dist, std::uint32_t after,
                 std::uint32_t before) noexcept;
    void reset_counters(std::size_t slot) noexcept;
    void apply(const QueuedModel& q) noexcept;
    void grow_to(std::size_t slots);
    void apply_pending() noexcept;
    void post_vote(Group& group, std::size_t first_block, std::size_t blocks) noexcept;

    BankParams params_;
    std::size_t window_, dims_, warm_, block_stride_, cold_stride_;
    double threshold100_;
    bool multi_, suppress_;
    bank_detail::BlockKernel kernel_;
    bank_detail::VoteKernel vote_;
    BankKernel kernel_kind_;

    mutable std::mutex state_mutex_;
    std::vector<Chunk> chunks_;       // blocks
    std::vector<Chunk> cold_chunks_;  // cold records (models > 1)
    std::size_t size_ = 0, active_ = 0, trained_ = 0;
    std::vector<std::uint8_t> count_;   // consecutive window values, per lane of every block
    std::vector<std::uint8_t> flags_;   // status bits and whether the hot state holds a model, per lane
    std::vector<std::uint8_t> held_;    // models held per lane (models > 1)
    std::vector<std::uint32_t> predictions_, anomalous_;  // suppression counters per lane (when on)
    std::vector<std::uint32_t> times_;  // after, before per lane (models == 1, once keep_times())
    bool keep_times_ = false;
    std::vector<std::uint32_t> generation_;  // per slot
    std::size_t free_hint_ = 0;         // no free slot below this one
    std::size_t ring_head_ = 0;         // ring row the last tick wrote
    std::uint64_t consulted_ = 0;
    std::unique_ptr<Calibration> calibration_;  // kind surprise only

    mutable std::mutex queue_mutex_;
    std::atomic<bool> pending_{false};
    std::vector<QueuedModel> queue_, applying_;
    std::atomic<std::size_t> training_{0};
};

}  // namespace pyml
