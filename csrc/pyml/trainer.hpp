// Training many slots of a dimension bank at once, on a small pool of
// threads, without ever writing a slot: finished models go to the bank's
// queue, and the bank's next tick applies them (or drops them if their slot
// was removed or reused meanwhile). A tick never waits for training and
// never sees a half-written model; while a slot retrains, its previous model
// keeps scoring.
//
// Each history is a raw series, oldest first, NaN = missing point. It is
// handled as the reference does (SPEC §4.4, fill_gaps): leading gaps are
// dropped, later gaps are forward-filled, and fewer than `min_samples`
// existing points means no training (the slot keeps its models).
//
// The features are the bank's (v1 or v2). With max_vectors > 0 the vectors
// are sub-sampled as Netdata 2.x does (SPEC-NETDATA-2 §3.2, sampling.hpp)
// and the outcomes follow its §3.5: fewer than D + S + L values after the
// leading gaps is "too few points", fewer than 2 kept vectors is
// "few_vectors" (the slot becomes TRAINED without a new model). With
// skip_constant, a slot whose VARIABLE status is clear when the call starts
// is not trained at all ("constant"; nothing changes). Every attempt's effect
// on the slot's state is queued with the models and applied by the tick
// (bank.hpp, QueuedKind): a model or "few_vectors" resets the suppression
// counters, clears VARIABLE and SILENCED and sets TRAINED; "too_few_points"
// resets the counters and clears VARIABLE; "error" and "constant" change
// nothing. A model carries the request's after/before (the training range,
// epoch seconds) for the ring rule.
//
// The workers' buffers (gap-filled history, features, sampled vectors,
// k-means workspace) are kept between calls in a small process-wide pool, so
// the many small calls a host makes (a few slots every few ticks) allocate
// nothing once warm.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pyml/bank.hpp"

namespace pyml {

enum class TrainStatus : std::uint8_t {
    trained = 0,         // a model was queued for the slot
    too_few_points = 1,  // fewer than min_samples points existed: the slot keeps its models
    error = 2,           // training failed (message says why): the slot keeps its models
    constant = 3,        // skip_constant and the value did not change since the last attempt: not trained
    few_vectors = 4,     // max_vectors > 0 and fewer than 2 vectors were kept: TRAINED without a new model
};

// "trained", "too_few_points", "error", "constant", "few_vectors".
const char* train_status_name(TrainStatus status) noexcept;

inline constexpr std::size_t kMaxTrainThreads = 64;

struct TrainerParams {
    std::size_t min_samples = 1;       // existing points needed, >= 1
    std::size_t max_iterations = 1000;  // k-means iterations, >= 1
    std::size_t threads = 2;           // worker threads, 1..kMaxTrainThreads
    std::size_t max_vectors = 0;       // 0: every vector; else Netdata 2.x's sub-sampling and outcomes
    std::uint32_t seed = kDefaultSamplingSeed;  // of the sampling table
    bool skip_constant = false;        // skip slots whose VARIABLE status is clear
};

// Throws std::invalid_argument naming the parameter and its value.
void validate_trainer_params(const TrainerParams& p);

// One slot to train: its raw history (not copied; must outlive the call).
struct TrainRequest {
    std::size_t slot = 0;
    const double* history = nullptr;
    std::size_t n = 0;
    std::uint32_t after = 0, before = 0;  // the range the history covers, epoch seconds
};

struct TrainOutcome {
    std::size_t slot = 0;
    TrainStatus status = TrainStatus::error;
    std::size_t existing = 0;  // points of the history that were not NaN
    double seconds = 0.0;      // wall time spent on this slot (gap filling and training)
    std::string message;       // why, when status is error
};

// Trains every requested slot and queues the models in `bank`; returns one
// outcome per request, in request order. Validates everything first and
// changes nothing if any check fails: std::invalid_argument for bad
// parameters, a slot listed twice, or a history holding +-inf (naming the
// request, slot, index and value); std::out_of_range naming a slot that is
// not in use. A failure of one slot's training is reported in its outcome.
// An unexpected exception in a worker (e.g. std::bad_alloc) is rethrown here
// after all workers stopped; models already queued stay queued.
// Blocks until done; safe to call while another thread ticks the bank.
std::vector<TrainOutcome> train_slots(Bank& bank, const std::vector<TrainRequest>& requests,
                                      const TrainerParams& params);

// Runs fn(item, worker) for item in [0, n) on up to `threads` threads (the
// calling thread is one of them; worker is in [0, threads)). The first
// exception thrown by any call stops the hand-out of further items and is
// rethrown in the caller once every thread has finished.
void parallel_for(std::size_t n, std::size_t threads,
                  const std::function<void(std::size_t item, std::size_t worker)>& fn);

}  // namespace pyml
