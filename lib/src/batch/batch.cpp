// Streaming batch verification (tdxkit/batch.hpp): a reader, a pool of workers and an in-order
// writer around a ring of `window` slots.

#include "tdxkit/batch.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "tdxkit/error.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/report.hpp"

namespace tdxkit {
namespace {

// Lines of at most `max` bytes without ever holding a longer one: the rest of an overlong line is
// skipped as it is read.
class LineReader {
public:
    LineReader(std::istream& in, std::size_t max) : in_(in), max_(max), buffer_(std::size_t{1} << 16) {}

    // False at the end of input. `too_long`: the line was longer than max (`line` is then empty).
    bool next(std::string& line, bool& too_long) {
        line.clear();
        too_long = false;
        bool any = false;
        while (true) {
            if (pos_ == end_ && !fill()) return any;
            any = true;
            const char* start = buffer_.data() + pos_;
            const auto* newline = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
            const std::size_t length = newline != nullptr ? static_cast<std::size_t>(newline - start) : end_ - pos_;
            if (!too_long && line.size() + length > max_) {
                too_long = true;
                line.clear();
                line.shrink_to_fit();
            }
            if (!too_long) line.append(start, length);
            pos_ += length;
            if (newline != nullptr) {
                ++pos_;
                return true;
            }
        }
    }

private:
    // Takes what the stream has, waiting only when it has nothing: a line from a pipe is verified
    // when it arrives, not when 64 KiB have accumulated.
    bool fill() {
        auto* buffer = in_.rdbuf();
        if (buffer == nullptr || buffer->sgetc() == std::char_traits<char>::eof()) return false;
        const auto available = std::max<std::streamsize>(1, buffer->in_avail());
        end_ = static_cast<std::size_t>(
            buffer->sgetn(buffer_.data(), std::min(available, static_cast<std::streamsize>(buffer_.size()))));
        pos_ = 0;
        return end_ != 0;
    }

    std::istream& in_;
    std::size_t max_;
    std::vector<char> buffer_;
    std::size_t pos_ = 0;
    std::size_t end_ = 0;
};

// Collateral per platform, resolved once and shared; a failure is remembered too, so that a fleet
// behind an unreachable PCCS fails fast rather than once per line.
class SharedCollateral {
public:
    SharedCollateral(const CollateralSources& sources, UnixTime now) : sources_(sources), now_(now) {}

    std::shared_ptr<const Collateral> get(const Quote& quote) {
        CollateralRequest request;
        std::string key = "given";
        // With one collateral set for all, the PCK chain need not be decoded per quote.
        if (sources_.path.empty()) {
            request = collateral_request_for(quote);
            key = collateral_key(request);
        }
        const std::lock_guard lock(mutex_);  // held while fetching: one fetch per platform, never two racing
        auto& entry = entries_[key];
        if (!entry.value && !entry.error) {
            try {
                entry.value = std::make_shared<const Collateral>(resolve_collateral(sources_, request, now_));
            } catch (const Error& e) {
                entry.error = e;
            }
        }
        if (entry.error) throw Error(*entry.error);  // a copy for each caller
        return entry.value;
    }

private:
    struct Entry {
        std::shared_ptr<const Collateral> value;
        std::optional<Error> error;
    };
    const CollateralSources& sources_;
    UnixTime now_;
    std::mutex mutex_;
    std::map<std::string, Entry> entries_;
};

struct Slot {
    std::string text;
    bool too_long = false;
    std::string result;
    std::string_view verdict;  // VerificationOutcome::result()
    bool done = false;
};

class Batch {
public:
    explicit Batch(const BatchOptions& options) : options_(options), collateral_(options.collateral, options.now) {}

    void process(Slot& slot) {
        VerificationOutcome o;
        BatchRequest request;
        try {
            if (slot.too_long) {
                throw Error(Errc::malformed, fmt::format("batch line is longer than {} bytes", options_.max_line));
            }
            parse_batch_request(slot.text, request);
            o.quote = parse_quote(request.input.quote);
            std::optional<EventLog> log;
            if (request.input.event_log) {
                log = parse_dstack_event_log(*request.input.event_log);
                o.event_log = {request.input.container, log->container, log->events.size()};
            }
            o.policy_source = options_.policy.source;
            AppraisalOptions appraisal_options;
            appraisal_options.now = options_.now;
            appraisal_options.trust_root = options_.trust_root;
            appraisal_options.cache = &cache_;
            o.appraisal = appraise(*o.quote, *collateral_.get(*o.quote), log ? &*log : nullptr, options_.policy,
                                   appraisal_options);
        } catch (const Error& e) {
            o.error = e;
        } catch (const std::exception& e) {
            o.error = Error(Errc::internal, e.what());
        }
        slot.result = options_.output == BatchOutput::summary
                          ? render_verify_summary(o, request.id_json)
                          : render_verify_json(o, options_.trust_root, -1, request.id_json);
        slot.verdict = o.result();
        slot.text.clear();
        slot.text.shrink_to_fit();
    }

private:
    const BatchOptions& options_;
    SharedCollateral collateral_;
    VerificationCache cache_;
};

}  // namespace

BatchSummary verify_batch(std::istream& in, const std::function<void(std::string_view line)>& write,
                          const BatchOptions& options, const std::function<void()>& caught_up) {
    const unsigned jobs = std::max(1U, options.jobs != 0 ? options.jobs : std::thread::hardware_concurrency());
    const std::size_t window = options.window != 0 ? options.window : std::size_t{64} * jobs;
    Batch batch(options);
    std::vector<Slot> ring(window);
    std::mutex mutex;
    std::condition_variable work_ready;   // workers: a line to verify, or the end
    std::condition_variable writer_wake;  // writer: the head is done, a line arrived, or the end
    std::condition_variable space;        // reader: a slot was freed
    std::size_t read = 0;                 // lines put into the ring
    std::size_t claimed = 0;              // lines taken for verification
    std::size_t written = 0;              // lines written out
    bool input_done = false;
    bool stop = false;  // the writer failed: everyone ends
    std::exception_ptr failure;
    BatchSummary summary;

    // Takes the next unclaimed line, verifies it and marks it done; `lock` is held on entry and exit.
    const auto verify_next = [&](std::unique_lock<std::mutex>& lock) {
        Slot& slot = ring[claimed++ % window];
        lock.unlock();
        batch.process(slot);
        lock.lock();
        slot.done = true;
        // The writer waits only for the head of the ring; waking it for another slot is wasted.
        if (&slot == &ring[written % window]) writer_wake.notify_one();
    };
    // A failure that process() cannot turn into a result line (out of memory while rendering one)
    // ends the batch with that exception, as a write failure does, instead of terminating the process.
    const auto fail = [&](std::exception_ptr e) {
        {
            const std::lock_guard lock(mutex);
            if (!failure) failure = std::move(e);
            stop = true;
        }
        work_ready.notify_all();
        writer_wake.notify_all();
        space.notify_all();
    };
    const auto worker = [&] {
        try {
            std::unique_lock lock(mutex);
            while (true) {
                work_ready.wait(lock, [&] { return claimed < read || input_done || stop; });
                if (stop || claimed == read) return;
                verify_next(lock);
            }
        } catch (...) {
            fail(std::current_exception());
        }
    };
    // Writes results in input order as they finish, and verifies lines itself rather than sleep:
    // with --jobs N there are N - 1 workers plus this thread.
    const auto writer = [&] {
        try {
            bool wrote = false;
            while (true) {
                Slot* head = nullptr;
                {
                    std::unique_lock lock(mutex);
                    while (head == nullptr) {
                        if (stop || (written == read && input_done)) break;
                        Slot& first = ring[written % window];
                        if (written < read && first.done) {
                            head = &first;
                        } else if (claimed < read) {
                            verify_next(lock);
                        } else if (wrote && caught_up) {
                            lock.unlock();
                            caught_up();
                            wrote = false;
                            lock.lock();
                        } else {
                            writer_wake.wait(lock);
                        }
                    }
                }
                if (head == nullptr) break;
                // A done slot at the head is touched by nobody else until the reader reuses it.
                write(head->result);
                wrote = true;
                summary.accepted += head->verdict == "ok" ? 1 : 0;
                summary.rejected += head->verdict == "rejected" ? 1 : 0;
                summary.errors += head->verdict == "error" ? 1 : 0;
                *head = Slot{};
                bool refill = false;
                {
                    const std::lock_guard lock(mutex);
                    ++written;
                    refill = read - written <= window / 2;
                }
                if (refill) space.notify_one();
            }
            if (wrote && caught_up) caught_up();
        } catch (...) {
            fail(std::current_exception());
            return;
        }
        work_ready.notify_all();
        space.notify_all();
    };

    std::vector<std::thread> threads;
    threads.reserve(jobs);
    // However this function is left, the threads are told to end and joined.
    struct Joiner {
        std::vector<std::thread>& threads;
        std::mutex& mutex;
        bool& input_done;
        std::condition_variable& work_ready;
        std::condition_variable& writer_wake;
        ~Joiner() {
            {
                const std::lock_guard lock(mutex);
                input_done = true;
            }
            work_ready.notify_all();
            writer_wake.notify_all();
            for (auto& t : threads) t.join();
        }
    } joiner{threads, mutex, input_done, work_ready, writer_wake};
    threads.emplace_back(writer);
    for (unsigned i = 1; i < jobs; ++i) threads.emplace_back(worker);

    // This thread reads: a line is verified as soon as it arrives and a slot is free.
    LineReader reader(in, options.max_line);
    std::string text;
    bool too_long = false;
    while (reader.next(text, too_long)) {
        if (!text.empty() && text.back() == '\r') text.pop_back();
        if (!too_long && text.find_first_not_of(" \t") == std::string::npos) continue;
        {
            std::unique_lock lock(mutex);
            // A full ring is refilled once half of it is written, not a slot at a time: waking the
            // reader for every line written was a context switch per line.
            if (read - written == window) space.wait(lock, [&] { return read - written <= window / 2 || stop; });
            if (stop) break;
            ++summary.lines;
            Slot& slot = ring[read % window];
            slot.text = std::move(text);
            slot.too_long = too_long;
            ++read;
        }
        work_ready.notify_one();
        writer_wake.notify_one();
        text = std::string();
    }
    {
        const std::lock_guard lock(mutex);
        input_done = true;
    }
    work_ready.notify_all();
    writer_wake.notify_all();
    for (auto& t : threads) t.join();
    threads.clear();
    if (failure) std::rethrow_exception(failure);
    return summary;
}

}  // namespace tdxkit
