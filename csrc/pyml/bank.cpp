#include "pyml/bank.hpp"

#include "pyml/bank_kernel.hpp"
#include "pyml/describe.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <string>

namespace pyml {
namespace {

using namespace bank_detail;

constexpr std::size_t kChunkAlign = 64;
constexpr std::size_t kSlotsPerChunk = Bank::kBlocksPerChunk * Bank::kLanes;

std::string slot_error(std::size_t slot) {
    return "slot " + std::to_string(slot) + " is not a slot in use in this bank";
}

template <class T>
void put(unsigned char* p, T v) noexcept {
    std::memcpy(p, &v, sizeof v);
}

template <class T>
T get(const unsigned char* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Where model m's pieces are in a cold record (bank_kernel.hpp).
struct ColdPlace {
    std::size_t f, n;
    std::size_t tile(std::size_t m) const { return (m / kTileModels) * tile_bytes(f); }
    std::size_t centre(std::size_t m, std::size_t j, std::size_t e) const {
        return tile(m) + ((j * f + e) * kTileModels + m % kTileModels) * sizeof(float);
    }
    std::size_t min_dist(std::size_t m) const {
        return tile(m) + 2 * f * kTileModels * sizeof(float) + (m % kTileModels) * sizeof(double);
    }
    std::size_t max_dist(std::size_t m) const { return min_dist(m) + kTileModels * sizeof(double); }
    std::size_t after(std::size_t m) const { return cold_tiles(n) * tile_bytes(f) + m * sizeof(std::uint32_t); }
    std::size_t before(std::size_t m) const { return after(n) + m * sizeof(std::uint32_t); }
};

unsigned popcount8(unsigned m) noexcept {  // m < 256; no libgcc call on the x86-64 baseline
    m = m - ((m >> 1) & 0x55u);
    m = (m & 0x33u) + ((m >> 2) & 0x33u);
    return (m + (m >> 4)) & 0x0Fu;
}

std::uint32_t saturating_inc(std::uint32_t v, bool by) noexcept {
    return v + static_cast<std::uint32_t>(by & (v != std::numeric_limits<std::uint32_t>::max()));
}

}  // namespace

bool bank_avx2_available() noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();  // idempotent; needed if called before constructors ran
    return __builtin_cpu_supports("avx2");
#else
    return false;
#endif
}

void validate_bank_params(const BankParams& p) {
    validate_feature_params(p.features);
    if (p.kernel == BankKernel::avx2 && !bank_avx2_available()) {
        throw std::invalid_argument("kernel = avx2, but this processor (or build) has no AVX2");
    }
    if (!(p.threshold >= 0.0) || !std::isfinite(p.threshold)) {
        throw std::invalid_argument("threshold = " + describe(p.threshold) + " must be a finite number >= 0");
    }
    if (p.models < 1 || p.models > kMaxModels) {
        throw std::invalid_argument("models = " + std::to_string(p.models) + " is out of range [1, " +
                                    std::to_string(kMaxModels) + "]");
    }
    if (p.variant != FeatureVariant::v1 && p.variant != FeatureVariant::v2) {
        throw std::invalid_argument("feature variant " + std::to_string(static_cast<int>(p.variant)) +
                                    " is not v1 or v2");
    }
    if ((p.suppression_window == 0) != (p.suppression_threshold == 0)) {
        throw std::invalid_argument("suppression_window = " + std::to_string(p.suppression_window) +
                                    " and suppression_threshold = " + std::to_string(p.suppression_threshold) +
                                    ": both must be 0 (no suppression) or both at least 1");
    }
    validate_calibration_params(p.calibration);
}

RingAction ring_action(std::size_t held, std::size_t capacity, const std::uint32_t* after, const std::uint32_t* before,
                       std::uint32_t new_after) noexcept {
    if (held < capacity) return RingAction::append;
    if (capacity > 2 && held >= 2 && after[held - 2] < before[held - 1] && before[held - 2] > new_after) {
        return RingAction::replace_newest;
    }
    return RingAction::rotate;
}

void Bank::ChunkDeleter::operator()(unsigned char* p) const noexcept {
    ::operator delete[](p, std::align_val_t(kChunkAlign));
}

Bank::Bank(const BankParams& params, std::size_t capacity) : params_(params) {
    validate_bank_params(params);
    window_ = feature_window(params.features);
    dims_ = feature_dims(params.features);
    warm_ = window_ + (params.variant == FeatureVariant::v2 ? 1 : 0);
    block_stride_ = block_doubles(window_, dims_);
    multi_ = params.models > 1;
    cold_stride_ = multi_ ? cold_record_bytes(dims_, params.models) : 0;
    suppress_ = params.suppression_window > 0;
    keep_times_ = multi_;
    threshold100_ = 100.0 * params.threshold;
    kernel_kind_ = params.kernel == BankKernel::best
                       ? (bank_avx2_available() ? BankKernel::avx2 : BankKernel::baseline)
                       : params.kernel;
    kernel_ = block_kernel(params.features, params.variant, kernel_kind_, !multi_ && !suppress_);
    vote_ = vote_kernel(dims_, kernel_kind_);
    if (params.calibration.kind != CalibrationKind::none) {
        calibration_ = std::make_unique<Calibration>(params.calibration, kMaxStorableMagnitude,
                                                     kernel_kind_ == BankKernel::avx2);
    }
    if (capacity > 0) {
        std::lock_guard<std::mutex> lock(state_mutex_);
        grow_to(capacity);
        generation_.reserve(capacity);
    }
}

Bank::~Bank() = default;

std::size_t Bank::size() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return size_;
}

std::size_t Bank::active() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return active_;
}

// Makes room for `slots` slots: whole chunks, never moving existing ones.
void Bank::grow_to(std::size_t slots) {
    const std::size_t blocks = (slots + W - 1) / W;
    const std::size_t chunks = (blocks + kBlocksPerChunk - 1) / kBlocksPerChunk;
    const auto fresh = [](std::size_t bytes) {
        auto* p = static_cast<unsigned char*>(::operator new[](bytes, std::align_val_t(kChunkAlign)));
        std::memset(p, 0, bytes);  // 0.0 doubles, zero models
        return Chunk(p);
    };
    if (chunks > chunks_.size()) {
        chunks_.reserve(chunks);
        if (multi_) cold_chunks_.reserve(chunks);
    }
    while (chunks_.size() < chunks) {
        Chunk blk = fresh(kBlocksPerChunk * block_stride_ * sizeof(double));
        if (multi_) cold_chunks_.push_back(fresh(kSlotsPerChunk * cold_stride_));
        chunks_.push_back(std::move(blk));
    }
    const std::size_t lanes = chunks_.size() * kSlotsPerChunk;
    if (count_.size() < lanes) {
        count_.resize(lanes, 0);
        flags_.resize(lanes, 0);
        if (multi_) held_.resize(lanes, 0);
        if (suppress_) {
            predictions_.resize(lanes, 0);
            anomalous_.resize(lanes, 0);
        }
        if (keep_times_ && !multi_) times_.resize(2 * lanes, 0);
    }
    if (calibration_) calibration_->grow_to(lanes);
}

void Bank::keep_times() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (keep_times_) return;
    times_.resize(2 * count_.size(), 0);
    keep_times_ = true;
}

void Bank::reset_counters(std::size_t slot) noexcept {
    if (suppress_) {
        predictions_[slot] = 0;
        anomalous_[slot] = 0;
    }
}

void Bank::clear_hot(std::size_t slot) noexcept {
    double* blk = block(slot / W);
    const std::size_t lane = slot % W;
    for (std::size_t e = window_; e < window_ + 2 * dims_ + 2; ++e) blk[e * W + lane] = 0.0;
}

void Bank::reset_lane(std::size_t slot) noexcept {
    clear_hot(slot);
    count_[slot] = 0;
    reset_counters(slot);
    if (multi_) {
        std::memset(cold(slot), 0, cold_stride_);
        held_[slot] = 0;
    } else if (keep_times_) {
        times_[2 * slot] = times_[2 * slot + 1] = 0;
    }
    if (calibration_) calibration_->reset(slot);
}

std::size_t Bank::add_slot() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    std::size_t slot;
    if (active_ < size_) {
        // The lowest free slot: none below the hint, so scan from there.
        slot = free_hint_;
        while (flags_[slot] & kActive) ++slot;
        ++generation_[slot];
    } else {
        grow_to(size_ + 1);
        generation_.push_back(0);  // may throw: nothing changed yet
        slot = size_++;
    }
    free_hint_ = slot + 1;
    reset_lane(slot);
    flags_[slot] = kActive;
    ++active_;
    return slot;
}

void Bank::check_slot(std::size_t slot) const {
    if (slot >= size_ || (flags_[slot] & kActive) == 0) throw std::out_of_range(slot_error(slot));
}

void Bank::check_model(const Model& model) const {
    if (model.k != 2 || model.dims != dims_ || model.centers.size() != 2 * dims_) {
        throw std::invalid_argument("model has k = " + std::to_string(model.k) + " centres of " +
                                    std::to_string(model.dims) + " coordinates (" +
                                    std::to_string(model.centers.size()) + " values); this bank needs k = 2 and " +
                                    std::to_string(dims_) + " coordinates (lag_n + 1)");
    }
}

void Bank::remove_slot(std::size_t slot) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    if (flags_[slot] & kHasModel) --trained_;
    reset_lane(slot);
    flags_[slot] = 0;
    --active_;
    free_hint_ = std::min(free_hint_, slot);
}

bool Bank::contains(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return slot < size_ && (flags_[slot] & kActive) != 0;
}

std::uint32_t Bank::generation(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    return generation_[slot];
}

bool Bank::trained(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    return (flags_[slot] & kHasModel) != 0;
}

std::size_t Bank::held(std::size_t slot) const noexcept {
    if (multi_) return held_[slot];
    return (flags_[slot] & kHasModel) != 0 ? 1 : 0;
}

// The hot first model: centres, distance range; marks the lane as holding one.
void Bank::write_hot(std::size_t slot, const double* centers, double min_dist, double max_dist) noexcept {
    double* blk = block(slot / W);
    const std::size_t lane = slot % W;
    for (std::size_t e = 0; e < 2 * dims_; ++e) blk[(window_ + e) * W + lane] = centers[e];
    blk[(window_ + 2 * dims_) * W + lane] = min_dist;
    blk[(window_ + 2 * dims_ + 1) * W + lane] = max_dist;
    if ((flags_[slot] & kHasModel) == 0) {
        flags_[slot] |= kHasModel;
        ++trained_;
    }
}

// Model m of the cold record, centres rounded to float32.
void Bank::put_cold(std::size_t slot, std::size_t m, const double* centers, double min_dist, double max_dist,
                    std::uint32_t after, std::uint32_t before) noexcept {
    unsigned char* rec = cold(slot);
    const ColdPlace at{dims_, params_.models};
    for (std::size_t j = 0; j < 2; ++j) {
        for (std::size_t e = 0; e < dims_; ++e) {
            put(rec + at.centre(m, j, e), static_cast<float>(centers[j * dims_ + e]));
        }
    }
    put(rec + at.min_dist(m), min_dist);
    put(rec + at.max_dist(m), max_dist);
    put(rec + at.after(m), after);
    put(rec + at.before(m), before);
}

SlotModel Bank::get_model(std::size_t slot, std::size_t m) const {
    SlotModel out;
    out.model.k = 2;
    out.model.dims = dims_;
    out.model.centers.resize(2 * dims_);
    if (multi_) {
        const unsigned char* rec = cold(slot);
        const ColdPlace at{dims_, params_.models};
        for (std::size_t j = 0; j < 2; ++j) {
            for (std::size_t e = 0; e < dims_; ++e) {
                out.model.centers[j * dims_ + e] = static_cast<double>(get<float>(rec + at.centre(m, j, e)));
            }
        }
        out.model.min_dist = get<double>(rec + at.min_dist(m));
        out.model.max_dist = get<double>(rec + at.max_dist(m));
        out.after = get<std::uint32_t>(rec + at.after(m));
        out.before = get<std::uint32_t>(rec + at.before(m));
    } else {
        const double* blk = block(slot / W);
        const std::size_t lane = slot % W;
        for (std::size_t e = 0; e < 2 * dims_; ++e) out.model.centers[e] = blk[(window_ + e) * W + lane];
        out.model.min_dist = blk[(window_ + 2 * dims_) * W + lane];
        out.model.max_dist = blk[(window_ + 2 * dims_ + 1) * W + lane];
        if (keep_times_) {
            out.after = times_[2 * slot];
            out.before = times_[2 * slot + 1];
        }
    }
    return out;
}

// The hot state takes model 0 of the cold record (exactly: floats widened).
void Bank::hot_from_cold(std::size_t slot) noexcept {
    if (held_[slot] == 0) {
        clear_hot(slot);
        if (flags_[slot] & kHasModel) {
            flags_[slot] &= static_cast<std::uint8_t>(~kHasModel);
            --trained_;
        }
        return;
    }
    const unsigned char* rec = cold(slot);
    const ColdPlace at{dims_, params_.models};
    double centers[2 * kMaxFeatureDims];
    for (std::size_t j = 0; j < 2; ++j) {
        for (std::size_t e = 0; e < dims_; ++e) {
            centers[j * dims_ + e] = static_cast<double>(get<float>(rec + at.centre(0, j, e)));
        }
    }
    write_hot(slot, centers, get<double>(rec + at.min_dist(0)), get<double>(rec + at.max_dist(0)));
}

// A new model joins the slot's models by the ring rule.
void Bank::install(std::size_t slot, const double* centers, double min_dist, double max_dist, std::uint32_t after,
                   std::uint32_t before) noexcept {
    if (!multi_) {  // one model: each new one replaces it
        write_hot(slot, centers, min_dist, max_dist);
        if (keep_times_) {
            times_[2 * slot] = after;
            times_[2 * slot + 1] = before;
        }
        return;
    }
    const std::size_t n = params_.models, h = held_[slot];
    unsigned char* rec = cold(slot);
    const ColdPlace at{dims_, n};
    std::uint32_t afters[kMaxModels], befores[kMaxModels];
    for (std::size_t m = 0; m < h; ++m) {
        afters[m] = get<std::uint32_t>(rec + at.after(m));
        befores[m] = get<std::uint32_t>(rec + at.before(m));
    }
    switch (ring_action(h, n, afters, befores, after)) {
        case RingAction::append:
            put_cold(slot, h, centers, min_dist, max_dist, after, before);
            held_[slot] = static_cast<std::uint8_t>(h + 1);
            if (h == 0) hot_from_cold(slot);
            break;
        case RingAction::replace_newest:
            put_cold(slot, h - 1, centers, min_dist, max_dist, after, before);
            break;
        case RingAction::rotate: {
            for (std::size_t m = 0; m + 1 < h; ++m) {
                const SlotModel next = get_model(slot, m + 1);
                put_cold(slot, m, next.model.centers.data(), next.model.min_dist, next.model.max_dist, next.after,
                         next.before);
            }
            put_cold(slot, h - 1, centers, min_dist, max_dist, after, before);
            hot_from_cold(slot);
            break;
        }
    }
}

std::optional<Model> Bank::model(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    const std::size_t h = held(slot);
    if (h == 0) return std::nullopt;
    return get_model(slot, h - 1).model;
}

std::vector<SlotModel> Bank::models(std::size_t slot) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    std::vector<SlotModel> out;
    const std::size_t h = held(slot);
    out.reserve(h);
    for (std::size_t m = 0; m < h; ++m) out.push_back(get_model(slot, m));
    return out;
}

void Bank::set_model(std::size_t slot, const Model& model) { set_models(slot, {SlotModel{model, 0, 0}}); }

void Bank::set_models(std::size_t slot, const std::vector<SlotModel>& models) {
    if (models.size() > params_.models) {
        throw std::invalid_argument(std::to_string(models.size()) + " models given; this bank holds at most " +
                                    std::to_string(params_.models) + " per slot");
    }
    bool timed = false;
    for (const SlotModel& m : models) {
        check_model(m.model);
        timed |= m.after != 0 || m.before != 0;
    }
    if (timed) keep_times();
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    if (multi_) {
        std::memset(cold(slot), 0, cold_stride_);
        for (std::size_t m = 0; m < models.size(); ++m) {
            put_cold(slot, m, models[m].model.centers.data(), models[m].model.min_dist, models[m].model.max_dist,
                     models[m].after, models[m].before);
        }
        held_[slot] = static_cast<std::uint8_t>(models.size());
        hot_from_cold(slot);
    } else if (models.empty()) {
        clear_hot(slot);
        if (flags_[slot] & kHasModel) --trained_;
        flags_[slot] &= static_cast<std::uint8_t>(~kHasModel);
    } else {
        install(slot, models[0].model.centers.data(), models[0].model.min_dist, models[0].model.max_dist,
                models[0].after, models[0].before);
    }
    if (models.empty()) {
        flags_[slot] &= static_cast<std::uint8_t>(~kTrained);
    } else {
        flags_[slot] |= kTrained;
    }
    flags_[slot] &= static_cast<std::uint8_t>(~kSilenced);
    reset_counters(slot);
}

void Bank::queue_model(std::size_t slot, const Model& model, std::uint32_t after, std::uint32_t before) {
    check_model(model);
    if (after != 0 || before != 0) keep_times();
    QueuedModel q;
    q.slot = slot;
    q.generation = generation(slot);  // throws for a slot not in use
    q.kind = QueuedKind::model;
    q.after = after;
    q.before = before;
    std::copy(model.centers.begin(), model.centers.end(), q.centers);
    q.min_dist = model.min_dist;
    q.max_dist = model.max_dist;
    enqueue_models(&q, 1);
}

void Bank::clear_model(std::size_t slot) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    check_slot(slot);
    if (flags_[slot] & kHasModel) --trained_;
    clear_hot(slot);
    if (multi_) {
        std::memset(cold(slot), 0, cold_stride_);
        held_[slot] = 0;
    }
    flags_[slot] &= static_cast<std::uint8_t>(~(kHasModel | kTrained));
}

void Bank::trained_mask(std::uint8_t* out, std::size_t n) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    for (std::size_t s = 0; s < n; ++s) out[s] = s < size_ && (flags_[s] & kHasModel) != 0;
}

std::size_t Bank::trained_count() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return trained_;
}

void Bank::status(std::uint8_t* out, std::size_t n) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    for (std::size_t s = 0; s < n; ++s) out[s] = s < size_ ? flags_[s] & kStatusBits : 0;
}

void Bank::model_counts(std::uint8_t* out, std::size_t n) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    for (std::size_t s = 0; s < n; ++s) out[s] = s < size_ ? static_cast<std::uint8_t>(held(s)) : 0;
}

void Bank::suppression_counts(std::uint32_t* predictions, std::uint32_t* anomalous, std::size_t n) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    for (std::size_t s = 0; s < n; ++s) {
        const bool have = suppress_ && s < size_;
        predictions[s] = have ? predictions_[s] : 0;
        anomalous[s] = have ? anomalous_[s] : 0;
    }
}

std::uint64_t Bank::models_consulted() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    return consulted_;
}

std::vector<std::uint32_t> Bank::generations_of(const std::vector<std::size_t>& slots) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    std::vector<std::uint32_t> out;
    out.reserve(slots.size());
    for (std::size_t slot : slots) {
        check_slot(slot);
        out.push_back(generation_[slot]);
    }
    return out;
}

std::vector<std::uint8_t> Bank::status_of(const std::vector<std::size_t>& slots) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    std::vector<std::uint8_t> out;
    out.reserve(slots.size());
    for (std::size_t slot : slots) {
        check_slot(slot);
        out.push_back(flags_[slot] & kStatusBits);
    }
    return out;
}

void Bank::enqueue_models(const QueuedModel* models, std::size_t n) {
    if (n == 0) return;
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.insert(queue_.end(), models, models + n);
    pending_.store(true, std::memory_order_release);
}

std::size_t Bank::pending_models() const {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    std::size_t n = 0;
    for (const QueuedModel& q : queue_) n += q.kind == QueuedKind::model;
    return n;
}

// One queued result (state lock held, slot and generation checked).
void Bank::apply(const QueuedModel& q) noexcept {
    const std::size_t slot = q.slot;
    switch (q.kind) {
        case QueuedKind::model:
            install(slot, q.centers, q.min_dist, q.max_dist, q.after, q.before);
            flags_[slot] = static_cast<std::uint8_t>((flags_[slot] | kTrained) & ~(kSilenced | kVariable));
            break;
        case QueuedKind::few_vectors:
            flags_[slot] = static_cast<std::uint8_t>((flags_[slot] | kTrained) & ~(kSilenced | kVariable));
            break;
        case QueuedKind::failed:
            flags_[slot] = static_cast<std::uint8_t>(flags_[slot] & ~kVariable);
            break;
    }
    reset_counters(slot);
}

// Called by the tick with the state lock held.
void Bank::apply_pending() noexcept {
    if (!pending_.load(std::memory_order_acquire)) return;
    {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        queue_.swap(applying_);  // both keep their capacity: no allocation
        pending_.store(false, std::memory_order_relaxed);
    }
    for (const QueuedModel& q : applying_) {
        if (q.slot < size_ && (flags_[q.slot] & kActive) != 0 && generation_[q.slot] == q.generation) apply(q);
    }
    applying_.clear();
}

// What a group of blocks carries from the block kernel through the post-vote
// stage to the packing.
struct Bank::Group {
    static constexpr std::size_t kBlocks = 8;
    static constexpr std::size_t kSlots = kBlocks * W;
    double scores[kSlots], to_pack[kSlots];
    std::uint8_t bits[kSlots];
    double features[kBlocks][kMaxFeatureDims * W];
    BlockOut out[kBlocks];
};

// The post-vote stage of one group (see bank.hpp): the rest of the vote for
// slots the first model did not call normal, the models-consulted count, the
// suppression counters and silencing. (The block kernel sets VARIABLE.)
void Bank::post_vote(Group& group, std::size_t first_block, std::size_t blocks) noexcept {
    std::uint64_t consulted = 0;
    // Slots whose vote goes on past their first model: their cold records
    // are requested two slots before they are read.
    std::size_t rest[Group::kSlots];
    std::size_t undecided = 0;
    for (std::size_t g = 0; g < blocks; ++g) {
        const BlockOut& o = group.out[g];
        consulted += popcount8(o.scored);
        if (multi_) {
            for (unsigned m = o.undecided; m != 0; m &= m - 1) {
                const std::size_t k = g * W + static_cast<std::size_t>(__builtin_ctz(m));
                if (held_[first_block * W + k] > 1) rest[undecided++] = k;  // else model 0 was the only vote
            }
        }
    }
    constexpr std::size_t kAhead = 2;
    const std::size_t scored_bytes = cold_tiles(params_.models) * tile_bytes(dims_);  // not the times
    const auto request = [this, first_block, scored_bytes](std::size_t k) {
        const char* rec = reinterpret_cast<const char*>(cold(first_block * W + k));
        for (std::size_t off = 0; off < scored_bytes; off += 64) __builtin_prefetch(rec + off);
    };
    for (std::size_t i = 0; i < kAhead && i < undecided; ++i) request(rest[i]);
    unsigned ended_normal[Group::kBlocks] = {};
    for (std::size_t i = 0; i < undecided; ++i) {
        if (i + kAhead < undecided) request(rest[i + kAhead]);
        const std::size_t k = rest[i], slot = first_block * W + k;
        // The feature vector in place: coordinate e of lane l at e * W + l.
        const double* feature = &group.features[k / W][k % W];
        const VoteOut v = vote_(cold(slot), held_[slot], feature, W, group.scores[k], threshold100_);
        consulted += v.visited - 1;
        group.scores[k] = v.score;
        group.bits[k] = v.anomalous ? 1 : 0;
        if (v.ended_normal) ended_normal[k / W] |= 1u << (k % W);
    }
    if (suppress_) {
        for (std::size_t g = 0; g < blocks; ++g) {
            const BlockOut& o = group.out[g];
            const std::size_t base = (first_block + g) * W;
            std::uint8_t* fl = &flags_[base];
            std::uint32_t* wc = &predictions_[base];
            std::uint32_t* ac = &anomalous_[base];
            for (std::size_t l = 0; l < W; ++l) wc[l] = saturating_inc(wc[l], ((o.predicted >> l) & 1u) != 0);
            // Predictions whose vote did not end as normal: count an anomalous
            // one, then check for silencing (the prediction keeps its result).
            const unsigned normal = (o.scored & ~o.undecided) | ended_normal[g];
            for (unsigned m = o.predicted & ~normal; m != 0; m &= m - 1) {
                const std::size_t l = static_cast<std::size_t>(__builtin_ctz(m));
                ac[l] = saturating_inc(ac[l], group.bits[g * W + l] != 0);
                if (ac[l] >= params_.suppression_threshold && wc[l] >= params_.suppression_window) fl[l] |= kSilenced;
            }
        }
    }
    consulted_ += consulted;
}

void Bank::tick(const double* values, std::size_t n, const std::uint8_t* reset, std::size_t reset_stride,
                storage_word* words, std::uint8_t* bits, double* scores, double* levels, int day_slot) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (n != size_) {
        throw std::invalid_argument("values has " + std::to_string(n) + " elements; the bank has " +
                                    std::to_string(size_) + " slots");
    }
    if (levels != nullptr && !calibration_) {
        throw std::invalid_argument("levels are the calibrated scores: this bank has calibration 'none'");
    }
    apply_pending();
    if (size_ == 0) return;

    const std::size_t prev_row = ring_head_;
    ring_head_ = ring_head_ + 1 == window_ ? 0 : ring_head_ + 1;
    std::size_t rows[kMaxDiffN + kMaxSmoothN + kMaxLagN];  // oldest first; the newest is ring_head_
    for (std::size_t i = 0; i < window_; ++i) rows[i] = (ring_head_ + 1 + i) % window_;

    // Blocks are scored in groups, whose votes are then finished and whose
    // words are packed at once; each block's state is requested kAhead blocks
    // early: with many slots it comes from the last-level cache or memory,
    // not the nearer caches.
    constexpr std::size_t kAhead = 3;
    const std::size_t blocks = (size_ + W - 1) / W;
    Group group;
    double v[W];
    storage_word flags[Group::kSlots];
    for (std::size_t first = 0; first < blocks; first += Group::kBlocks) {
        const std::size_t count = std::min(Group::kBlocks, blocks - first);
        for (std::size_t g = 0; g < count; ++g) {
            const std::size_t blk = first + g, base = blk * W;
            const double* in = values + base;
            if (base + W > size_) {  // the last, partial block
                for (std::size_t l = 0; l < W; ++l) {
                    v[l] = base + l < size_ ? values[base + l] : std::numeric_limits<double>::quiet_NaN();
                }
                in = v;
            }
            if (blk + kAhead < blocks) {
                const char* next = reinterpret_cast<const char*>(block(blk + kAhead));
                for (std::size_t off = 0; off < block_stride_ * sizeof(double); off += 64) {
                    __builtin_prefetch(next + off);
                }
            }
            BlockOut& o = group.out[g];
            o.scores = group.scores + g * W;
            o.bits = group.bits + g * W;
            o.to_pack = group.to_pack + g * W;
            o.features = group.features[g];
            kernel_(block(blk), &count_[base], &flags_[base], in, rows, prev_row, threshold100_, o);
        }
        post_vote(group, first, count);
        const std::size_t base = first * W, lanes = std::min(count * W, size_ - base);
        if (calibration_) {
            std::uint8_t scored[Group::kBlocks];
            for (std::size_t g = 0; g < count; ++g) scored[g] = static_cast<std::uint8_t>(group.out[g].scored);
            calibration_->apply(base, lanes, group.to_pack, scored, group.scores, group.bits,
                                levels != nullptr ? levels + base : nullptr, day_slot);
        }
        for (std::size_t l = 0; l < lanes; ++l) {
            const bool reset_flag = reset != nullptr && reset[(base + l) * reset_stride] != 0;
            flags[l] = sample_flags(group.bits[l] != 0, reset_flag);
        }
        pack_flagged(group.to_pack, flags, lanes, words + base);
        if (bits != nullptr) std::memcpy(bits + base, group.bits, lanes);
        if (scores != nullptr) std::memcpy(scores + base, group.scores, lanes * sizeof(double));
    }
}

void Bank::calibration_state(CalibrationState* out, std::size_t n) const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (!calibration_) throw std::invalid_argument("this bank has calibration 'none': it keeps no calibration state");
    for (std::size_t s = 0; s < n; ++s) out[s] = s < size_ ? calibration_->state(s) : calibration_->initial();
}

void Bank::set_calibration_state(const std::size_t* slots, const CalibrationState* states, std::size_t n) {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (!calibration_) throw std::invalid_argument("this bank has calibration 'none': it keeps no calibration state");
    for (std::size_t i = 0; i < n; ++i) check_slot(slots[i]);
    calibration_->set_states(slots, states, n);  // checks every state before it changes one
}

std::size_t Bank::memory_bytes() const {
    std::lock_guard<std::mutex> lock(state_mutex_);
    std::size_t bytes = sizeof(*this);
    if (calibration_) bytes += sizeof(Calibration) + calibration_->memory_bytes();
    bytes += chunks_.size() * kBlocksPerChunk * block_stride_ * sizeof(double);
    bytes += cold_chunks_.size() * kSlotsPerChunk * cold_stride_;
    bytes += (chunks_.capacity() + cold_chunks_.capacity()) * sizeof(Chunk);
    bytes += count_.capacity() + flags_.capacity() + held_.capacity();
    bytes += (predictions_.capacity() + anomalous_.capacity() + times_.capacity()) * sizeof(std::uint32_t);
    bytes += generation_.capacity() * sizeof(std::uint32_t);
    {
        std::lock_guard<std::mutex> qlock(queue_mutex_);
        bytes += (queue_.capacity() + applying_.capacity()) * sizeof(QueuedModel);
    }
    return bytes;
}

}  // namespace pyml
