#include "pyml/trainer.hpp"

#include "pyml/describe.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace pyml {
namespace {

// Decrements the bank's in-progress count for every slot not yet finished,
// also when a worker's exception unwinds the call.
class InProgress {
public:
    InProgress(Bank& bank, std::size_t n) : bank_(bank), left_(n) { bank_.training_started(n); }
    ~InProgress() { bank_.training_finished(left_.load()); }
    void finished_one() noexcept {
        left_.fetch_sub(1);
        bank_.training_finished(1);
    }
    InProgress(const InProgress&) = delete;
    InProgress& operator=(const InProgress&) = delete;

private:
    Bank& bank_;
    std::atomic<std::size_t> left_;
};

// What one worker thread of train_slots uses: the training scratch and the
// gap-filled history.
struct Worker {
    TrainScratch scratch;
    std::vector<double> filled;
};

// Workers of finished calls, reused by the next ones: a host trains a few
// slots every few ticks, and fresh buffers would cost allocations and page
// faults each time (a 6-hour window alone is 170 kB). At most
// kMaxTrainThreads workers are kept, none holding more than kKeepBytes.
class WorkerPool {
public:
    std::unique_ptr<Worker> take() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!free_.empty()) {
                std::unique_ptr<Worker> w = std::move(free_.back());
                free_.pop_back();
                return w;
            }
        }
        return std::make_unique<Worker>();
    }

    void give(std::unique_ptr<Worker> w) noexcept {
        if (bytes(*w) > kKeepBytes) return;
        std::lock_guard<std::mutex> lock(mutex_);
        if (free_.size() < kMaxTrainThreads) {
            try {
                free_.push_back(std::move(w));
            } catch (...) {  // no room to keep it: it is simply freed
            }
        }
    }

private:
    static constexpr std::size_t kKeepBytes = std::size_t{16} << 20;

    static std::size_t bytes(const Worker& w) noexcept {
        const TrainScratch& s = w.scratch;
        const KmeansWorkspace& k = s.kmeans;
        return (w.filled.capacity() + s.features.capacity() + s.kept.capacity() + k.dist.capacity() +
                k.select.capacity() + k.rows.capacity() + k.l1.capacity() + k.gathered.capacity()) *
                   sizeof(double) +
               (s.table.capacity() + s.offsets.capacity() + k.bound.capacity()) * 4 +
               k.bits.capacity() * sizeof(std::uint64_t) + k.records.capacity() * sizeof(detail::ScoreRecord);
    }

    std::mutex mutex_;
    std::vector<std::unique_ptr<Worker>> free_;
};

WorkerPool& worker_pool() {
    static WorkerPool pool;
    return pool;
}

// The workers of one call, taken from the pool and given back at the end
// (also when a worker's exception unwinds the call).
class Workers {
public:
    explicit Workers(std::size_t n) {
        workers_.reserve(n);
        for (std::size_t i = 0; i < n; ++i) workers_.push_back(worker_pool().take());
    }
    ~Workers() {
        for (auto& w : workers_) worker_pool().give(std::move(w));
    }
    Workers(const Workers&) = delete;
    Workers& operator=(const Workers&) = delete;
    Worker& operator[](std::size_t i) { return *workers_[i]; }

private:
    std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace

const char* train_status_name(TrainStatus status) noexcept {
    switch (status) {
        case TrainStatus::trained:
            return "trained";
        case TrainStatus::too_few_points:
            return "too_few_points";
        case TrainStatus::error:
            return "error";
        case TrainStatus::constant:
            return "constant";
        case TrainStatus::few_vectors:
            return "few_vectors";
    }
    return "error";
}

void validate_trainer_params(const TrainerParams& p) {
    if (p.min_samples < 1) {
        throw std::invalid_argument("min_samples = " + std::to_string(p.min_samples) + " must be at least 1");
    }
    if (p.max_iterations < 1) {
        throw std::invalid_argument("max_iterations = " + std::to_string(p.max_iterations) +
                                    " must be at least 1");
    }
    if (p.threads < 1 || p.threads > kMaxTrainThreads) {
        throw std::invalid_argument("threads = " + std::to_string(p.threads) + " is out of range [1, " +
                                    std::to_string(kMaxTrainThreads) + "]");
    }
}

void parallel_for(std::size_t n, std::size_t threads,
                  const std::function<void(std::size_t item, std::size_t worker)>& fn) {
    if (n == 0) return;
    threads = std::max<std::size_t>(1, std::min(threads, n));
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};
    std::exception_ptr first_error;
    std::mutex error_mutex;

    auto work = [&](std::size_t worker) {
        try {
            while (!stop.load(std::memory_order_relaxed)) {
                const std::size_t item = next.fetch_add(1);
                if (item >= n) break;
                fn(item, worker);
            }
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!first_error) first_error = std::current_exception();
            stop.store(true);
        }
    };

    std::vector<std::thread> pool;
    try {
        pool.reserve(threads - 1);
        for (std::size_t w = 1; w < threads; ++w) pool.emplace_back(work, w);
    } catch (...) {
        // Could not start a thread: let the started ones finish, then report.
        stop.store(true);
        for (auto& t : pool) t.join();
        throw;
    }
    work(0);
    for (auto& t : pool) t.join();
    if (first_error) std::rethrow_exception(first_error);
}

std::vector<TrainOutcome> train_slots(Bank& bank, const std::vector<TrainRequest>& requests,
                                      const TrainerParams& params) {
    validate_trainer_params(params);
    TrainParams train_params;
    train_params.features = bank.params().features;
    train_params.variant = bank.params().variant;
    train_params.max_iterations = params.max_iterations;
    train_params.k = 2;
    train_params.max_vectors = params.max_vectors;
    train_params.seed = params.seed;
    validate_train_params(train_params);
    const bool netdata2_outcomes = params.max_vectors > 0;

    const std::size_t n = requests.size();
    std::vector<std::size_t> slots(n);
    for (std::size_t i = 0; i < n; ++i) slots[i] = requests[i].slot;
    {
        std::vector<std::size_t> sorted = slots;
        std::sort(sorted.begin(), sorted.end());
        const auto dup = std::adjacent_find(sorted.begin(), sorted.end());
        if (dup != sorted.end()) {
            throw std::invalid_argument("slot " + std::to_string(*dup) + " is listed more than once");
        }
    }
    bool timed = false;
    for (std::size_t i = 0; i < n; ++i) {
        const TrainRequest& r = requests[i];
        if (r.history == nullptr && r.n > 0) {
            throw std::invalid_argument("histories[" + std::to_string(i) + "] has no data");
        }
        for (std::size_t j = 0; j < r.n; ++j) {
            if (std::isinf(r.history[j])) {
                throw std::invalid_argument("histories[" + std::to_string(i) + "] (slot " + std::to_string(r.slot) +
                                            ") has " + describe(r.history[j]) + " at index " + std::to_string(j) +
                                            "; only finite values and NaN (missing) are accepted");
            }
        }
        timed |= r.after != 0 || r.before != 0;
    }
    // The generations now: a result is applied only if its slot still has
    // it. The status now: whether the value changed since the last attempt.
    const std::vector<std::uint32_t> generations = bank.generations_of(slots);
    const std::vector<std::uint8_t> status = bank.status_of(slots);
    if (timed) bank.keep_times();

    std::vector<TrainOutcome> outcomes(n);
    const std::size_t threads = std::min(params.threads, std::max<std::size_t>(n, 1));
    Workers workers(threads);
    InProgress in_progress(bank, n);
    const std::size_t window = bank.window();

    parallel_for(n, threads, [&](std::size_t i, std::size_t w) {
        const TrainRequest& r = requests[i];
        Worker& worker = workers[w];
        TrainOutcome& out = outcomes[i];
        out.slot = r.slot;
        const auto started = std::chrono::steady_clock::now();
        QueuedModel q;
        q.slot = r.slot;
        q.generation = generations[i];
        q.after = r.after;
        q.before = r.before;
        bool queue = false;
        if (params.skip_constant && (status[i] & kStatusVariable) == 0) {
            out.status = TrainStatus::constant;
            out.message = "the value did not change since the last training attempt";
        } else {
            out.existing = fill_gaps(r.history, r.n, worker.filled);
            if (out.existing < params.min_samples) {
                out.status = TrainStatus::too_few_points;
                out.message = std::to_string(out.existing) + " points existed; " +
                              std::to_string(params.min_samples) + " are needed";
            } else if (netdata2_outcomes && worker.filled.size() < window) {
                out.status = TrainStatus::too_few_points;
                out.message = std::to_string(worker.filled.size()) + " values after the leading gaps; one vector needs " +
                              std::to_string(window) + " (diff_n + smooth_n + lag_n)";
            } else if (netdata2_outcomes &&
                       training_vector_count(worker.filled.size(), train_params, worker.scratch) < 2) {
                out.status = TrainStatus::few_vectors;
                out.message = "fewer than 2 vectors were kept";
            } else {
                try {
                    const Model model =
                        train_model(worker.filled.data(), worker.filled.size(), train_params, worker.scratch);
                    if (model.k != 2 || model.centers.size() != 2 * bank.dims()) {
                        throw std::invalid_argument("training gave " + std::to_string(model.centers.size()) +
                                                    " centre values; expected " + std::to_string(2 * bank.dims()));
                    }
                    std::copy(model.centers.begin(), model.centers.end(), q.centers);
                    q.min_dist = model.min_dist;
                    q.max_dist = model.max_dist;
                    out.status = TrainStatus::trained;
                } catch (const std::invalid_argument& e) {
                    out.status = TrainStatus::error;
                    out.message = e.what();
                }
            }
            switch (out.status) {
                case TrainStatus::trained:
                    q.kind = QueuedKind::model;
                    queue = true;
                    break;
                case TrainStatus::few_vectors:
                    q.kind = QueuedKind::few_vectors;
                    queue = true;
                    break;
                case TrainStatus::too_few_points:
                    q.kind = QueuedKind::failed;
                    queue = true;
                    break;
                default:
                    break;
            }
        }
        if (queue) bank.enqueue_models(&q, 1);
        out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        in_progress.finished_one();
    });
    return outcomes;
}

}  // namespace pyml
