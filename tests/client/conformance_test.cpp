#include "client/conformance.hpp"

#include <gtest/gtest.h>

#include <set>

#include "pki/scep/faults.hpp"

namespace scep::client {
namespace {

conformance_case with(expectation e, std::string name = "some-fault") {
    return {std::move(name), R"({"kind":"bad-signature"})", e, "a reply"};
}

case_result ended(conformance_case c, bool certificate, int exit_code = 1) {
    case_result r;
    r.c = std::move(c);
    r.certificate = certificate;
    r.exit_code = exit_code;
    if (!r.c.rule_json.empty()) r.requests = r.fired = 1;  // the fault met the client
    return r;
}

TEST(ConformanceClassify, BadReplyInstalledIsAFailure) {
    auto r = ended(with(expectation::refuse), true, 0);
    classify(r);
    EXPECT_EQ(r.v, verdict::fail);
    EXPECT_EQ(r.outcome, "certificate written");
    EXPECT_NE(r.detail.find("should have refused"), std::string::npos);
}

TEST(ConformanceClassify, BadReplyRefusedPasses) {
    auto r = ended(with(expectation::refuse), false, 1);
    classify(r);
    EXPECT_EQ(r.v, verdict::pass);
    EXPECT_EQ(r.outcome, "refused (exit 1)");
    auto quiet = ended(with(expectation::refuse), false, 0);
    classify(quiet);
    EXPECT_EQ(quiet.v, verdict::pass);
    EXPECT_NE(quiet.detail.find("exit 0"), std::string::npos);
}

TEST(ConformanceClassify, ValidReplyRefusedFailsAndTheBaselineSaysSo) {
    auto r = ended(with(expectation::accept), false);
    classify(r);
    EXPECT_EQ(r.v, verdict::fail);
    EXPECT_EQ(r.detail, "refused a valid reply");
    auto base = ended({"baseline", "", expectation::accept, ""}, false);
    classify(base);
    EXPECT_EQ(base.v, verdict::fail);
    EXPECT_NE(base.detail.find("correct server"), std::string::npos);
}

TEST(ConformanceClassify, HangAndCrashFailWhateverWasExpected) {
    for (auto e : {expectation::accept, expectation::refuse, expectation::either}) {
        auto hang = ended(with(e), false, -1);
        hang.timed_out = true;
        hang.signal = 9;  // killed by the runner: still a hang, not a crash
        hang.seconds = 30.2;
        classify(hang);
        EXPECT_EQ(hang.v, verdict::fail);
        EXPECT_NE(hang.detail.find("hang"), std::string::npos);
        EXPECT_EQ(hang.outcome, "no answer (killed after 30 s)");
        auto crash = ended(with(e), false, -1);
        crash.signal = 11;
        classify(crash);
        EXPECT_EQ(crash.v, verdict::fail);
        EXPECT_EQ(crash.outcome, "crash (signal 11)");
    }
}

TEST(ConformanceClassify, APanicIsACrashWhateverTheExitCode) {
    const std::string go = "ts=1 level=info op=PKIOperation\n"
                           "panic: runtime error: invalid memory address or nil pointer dereference\n"
                           "[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x677d3c]\n"
                           "goroutine 1 [running]:\n";
    EXPECT_EQ(crash_in_output(go), "Go panic: runtime error: invalid memory address or nil pointer dereference");
    EXPECT_EQ(crash_in_output("x\nTraceback (most recent call last):\n  File"), "Python traceback");
    EXPECT_EQ(crash_in_output("terminate called after throwing an instance of 'x'"), "C++ terminate");
    // Only at the start of a line: a client quoting the word is not crashing.
    EXPECT_EQ(crash_in_output("error: server said panic: no\n"), "");
    EXPECT_EQ(crash_in_output(""), "");
    auto r = ended(with(expectation::refuse), false, 2);
    r.crash = crash_in_output(go);
    classify(r);
    EXPECT_EQ(r.v, verdict::fail);
    EXPECT_EQ(r.outcome, "crash (Go panic: runtime error: invalid memory address or nil pointer dereference)");
    auto after = ended(with(expectation::accept), true, 2);
    after.crash = "Go panic: index out of range";
    classify(after);
    EXPECT_EQ(after.v, verdict::fail);
    EXPECT_NE(after.detail.find("after writing a certificate"), std::string::npos);
}

TEST(ConformanceClassify, PollingUntilTheTimeoutIsRightForPendingForever) {
    auto r = ended(with(expectation::poll), false, -1);
    r.timed_out = true;
    classify(r);
    EXPECT_EQ(r.v, verdict::pass);
    auto installed = ended(with(expectation::poll), true, 0);
    classify(installed);
    EXPECT_EQ(installed.v, verdict::fail);
}

TEST(ConformanceClassify, WaitingToRetryAtTheTimeoutIsReportedNotAHang) {
    auto r = ended(with(expectation::retry), false, -1);
    r.timed_out = true;
    r.requests = 1;
    classify(r);
    EXPECT_EQ(r.v, verdict::reported);
    EXPECT_NE(r.detail.find("still waiting to retry"), std::string::npos);
}

TEST(ConformanceClassify, RetryAndEitherAreReportedNotFailed) {
    auto gave_up = ended(with(expectation::retry), false);
    gave_up.requests = 1;
    classify(gave_up);
    EXPECT_EQ(gave_up.v, verdict::reported);
    EXPECT_EQ(gave_up.detail, "did not retry (1 PKIOperation request)");
    EXPECT_EQ(gave_up.outcome, "gave up (exit 1)");
    auto retried = ended(with(expectation::retry), true, 0);
    retried.requests = 2;
    classify(retried);
    EXPECT_EQ(retried.v, verdict::pass);
    EXPECT_EQ(retried.detail, "retried: 2 PKIOperation requests");
    for (bool cert : {true, false}) {
        auto r = ended(with(expectation::either), cert);
        classify(r);
        EXPECT_EQ(r.v, verdict::reported);
        EXPECT_EQ(r.detail, cert ? "accepted" : "refused");
    }
}

TEST(ConformanceClassify, ACrashUnderAWrapperIsACrashNotARefusal) {
    // A client that segfaults under a shell script: the script exits 139 and
    // the shell prints its line. Scored "refused (exit 139)" before: a pass.
    EXPECT_EQ(crash_in_exit_code(139), "SIGSEGV under a wrapper (exit 139)");
    EXPECT_EQ(crash_in_exit_code(134), "SIGABRT under a wrapper (exit 134)");
    for (int not_a_crash : {0, 1, 2, 3, 127, 128, 130, 143, 255}) EXPECT_EQ(crash_in_exit_code(not_a_crash), "") << not_a_crash;
    EXPECT_EQ(crash_in_output("./client.sh: line 4: 12345 Segmentation fault      (core dumped) ./c\n"),
              "Segmentation fault");
    EXPECT_EQ(crash_in_output("sh: 1: ./c: Aborted (core dumped)\n"), "core dumped");
    EXPECT_EQ(crash_in_output("==1==ERROR: AddressSanitizer: heap-buffer-overflow\n"), "AddressSanitizer");
    EXPECT_EQ(crash_in_output("x.c:3:5: runtime error: UndefinedBehaviorSanitizer\n"), "UndefinedBehaviorSanitizer");
    EXPECT_EQ(crash_in_output("*** stack smashing detected ***: terminated\n"), "stack smashing");
    for (auto e : {expectation::refuse, expectation::either}) {
        auto r = ended(with(e, "truncated-body"), false, 139);
        r.crash = crash_in_exit_code(139);
        classify(r);
        EXPECT_EQ(r.v, verdict::fail);
        EXPECT_EQ(r.outcome, "crash (SIGSEGV under a wrapper (exit 139))");
    }
}

TEST(ConformanceClassify, AFaultThatNeverFiredIsNotExercisedWhateverHappened) {
    // A "client" that never contacts the server: nothing it does says anything about the fault.
    for (bool certificate : {true, false}) {
        auto r = ended(with(expectation::refuse, "no-envelope"), certificate, 0);
        r.requests = r.fired = 0;
        classify(r);
        EXPECT_EQ(r.v, verdict::not_exercised);
        EXPECT_EQ(r.detail, "the fault never fired: the client sent no PKIOperation request");
    }
    auto matched = ended(with(expectation::refuse), false, 1);
    matched.operation = "GetCACert";
    matched.requests = 2;
    matched.fired = 0;
    classify(matched);
    EXPECT_EQ(matched.v, verdict::not_exercised);
    EXPECT_EQ(matched.detail, "the fault never fired: 2 GetCACert requests matched its rule");
    // An unreadable fault list: classified as before.
    auto unknown = ended(with(expectation::refuse), false, 1);
    unknown.fired = 0;
    unknown.fired_known = false;
    classify(unknown);
    EXPECT_EQ(unknown.v, verdict::pass);
    // The baseline has no fault: never "not exercised".
    auto base = ended({"baseline", "", expectation::accept, ""}, false, 0);
    classify(base);
    EXPECT_EQ(base.v, verdict::fail);
    // Counted apart in the reports.
    std::vector<case_result> all{base, matched};
    EXPECT_EQ(summary_text(count_verdicts(all)), "0 pass, 1 FAIL, 0 reported, 1 not exercised");
    auto xml = scorecard_junit("client.sh", all);
    EXPECT_NE(xml.find("skipped=\"1\""), std::string::npos) << xml;
    EXPECT_NE(xml.find("<skipped message=\"the fault never fired"), std::string::npos) << xml;
}

TEST(ConformanceClassify, PollVerdictsSayWhatTheClientDid) {
    auto gave_up = ended(with(expectation::poll, "pending-forever"), false, 3);
    gave_up.log_known = true;
    gave_up.polls = 4;
    classify(gave_up);
    EXPECT_EQ(gave_up.v, verdict::pass);
    EXPECT_EQ(gave_up.outcome, "gave up (exit 3)");
    EXPECT_EQ(gave_up.detail, "polled 4 times, then gave up");
    auto no_poll = ended(with(expectation::poll, "pending-forever"), false, 1);
    no_poll.log_known = true;
    classify(no_poll);
    EXPECT_EQ(no_poll.detail, "stopped at PENDING without polling");
    auto polling = ended(with(expectation::poll, "pending-forever"), false, -1);
    polling.timed_out = true;
    polling.log_known = true;
    polling.polls = 1;
    polling.timeout_seconds = 35;
    classify(polling);
    EXPECT_EQ(polling.detail, "still polling at the timeout (polled 1 time), nothing installed");
    auto retry = ended(with(expectation::retry, "pending-then-success"), false, 1);
    retry.log_known = true;
    retry.polls = 2;
    classify(retry);
    EXPECT_EQ(retry.v, verdict::reported);
    EXPECT_EQ(retry.detail, "polled 2 times, then gave up before the answer");
}

TEST(ConformanceReport, TheTellingLineIsTheFirstErrorNotTheLastLine) {
    // A stale progress line after the error (20 of 23 refusals of one client).
    EXPECT_EQ(telling_line("connecting\nerror: recipientNonce does not match\npkistatus: SUCCESS\n"),
              "error: recipientNonce does not match");
    // A Go kit log: level=error wins over an earlier line with a failure word.
    EXPECT_EQ(telling_line("ts=1 level=info msg=\"not yet\"\nts=2 level=error err=\"pkcs7: bad\"\n"),
              "err=\"pkcs7: bad\"");
    // Nothing that reads as an error: the last line, indented continuations skipped.
    EXPECT_EQ(telling_line("start\ncertmonger status: MONITORING\n  detail\n"), "certmonger status: MONITORING");
    EXPECT_EQ(telling_line(""), "");
    // A profile's summary line first; its helpers' noise never.
    const std::string cm = "dbus-daemon[1]: Error.AccessDenied: Failed to set fd limit\ncertmonger status: CA_REJECTED (x)\n";
    EXPECT_EQ(telling_line(cm, "certmonger status:", "dbus-daemon["), "certmonger status: CA_REJECTED (x)");
    EXPECT_EQ(telling_line("dbus-daemon[1]: Failed to set fd limit\nwaiting\n", "certmonger status:", "dbus-daemon["), "waiting");
    EXPECT_EQ(telling_line("bad\x1b[31m escape failed\n"), "bad?[31m escape failed");
}

TEST(ConformanceReport, JUnitNamesKeepNoDotsOrPaths) {
    EXPECT_EQ(junit_name("client.sh"), "client_sh");
    EXPECT_EQ(junit_name("/usr/local/bin/my client.py"), "my_client_py");
    EXPECT_EQ(junit_name("scepclient"), "scepclient");
    EXPECT_EQ(junit_name(""), "client");
    auto ok = ended({"baseline", "", expectation::accept, ""}, true, 0);
    classify(ok);
    auto xml = scorecard_junit("wrapper.sh", {ok});
    EXPECT_NE(xml.find("classname=\"scep-lab.conformance.wrapper_sh\""), std::string::npos) << xml;
    EXPECT_NE(xml.find("<testsuite name=\"wrapper.sh\""), std::string::npos) << xml;  // the suite keeps the name
}

observation watched(std::uint64_t after = 0, std::optional<bool> check = std::nullopt) {
    observation o;
    o.window_seconds = 60;
    o.requests = 3 + after;
    o.after = after;
    o.check = check;
    return o;
}

TEST(ConformanceObserve, TheCheckDecidesLikeACertificateWritten) {
    auto installed = ended(with(expectation::refuse, "wrong-recipient-nonce"), false);
    classify_observed(installed, watched(0, true));
    EXPECT_EQ(installed.v, verdict::fail);
    EXPECT_EQ(installed.outcome, "certificate installed (check)");
    auto refused = ended(with(expectation::refuse, "bad-signature"), false);
    classify_observed(refused, watched(0, false));
    EXPECT_EQ(refused.v, verdict::pass);
    EXPECT_EQ(refused.outcome, "no certificate (check); no further request");
    auto valid = ended(with(expectation::accept, "no-signing-time"), false);
    classify_observed(valid, watched(0, false));
    EXPECT_EQ(valid.v, verdict::fail);
    EXPECT_EQ(valid.detail, "refused a valid answer");
}

TEST(ConformanceObserve, WithoutACheckOnlyWhatTheLogShowsIsJudged) {
    // No further request after a faulted CertRep: took it, or gave up: cannot tell.
    auto silent = ended(with(expectation::refuse), false);
    classify_observed(silent, watched(0));
    EXPECT_EQ(silent.v, verdict::reported);
    EXPECT_TRUE(silent.observed);
    EXPECT_EQ(silent.outcome, "observed: no further request");
    // It asked again: it did not take the answer.
    auto again = ended(with(expectation::refuse), false);
    auto o = watched(2);
    o.new_enrollments = 1;
    o.same_transaction = 1;
    classify_observed(again, o);
    EXPECT_EQ(again.v, verdict::pass);
    EXPECT_FALSE(again.observed);
    EXPECT_EQ(again.outcome, "asked again; 1 retry or poll, 1 new enrollment");
    // PENDING has nothing to install: polling, or giving up, is right.
    auto pending = ended(with(expectation::poll, "pending-forever"), false);
    auto polled = watched(3);
    polled.same_transaction = 3;
    classify_observed(pending, polled);
    EXPECT_EQ(pending.v, verdict::pass);
    EXPECT_EQ(pending.detail, "polled 3 times");
    // A retry that ended in a SUCCESS enrolled.
    auto retry = ended(with(expectation::retry, "http-status-503-retry"), false);
    auto retried = watched(1);
    retried.same_transaction = 1;
    retried.enrolled = true;
    classify_observed(retry, retried);
    EXPECT_EQ(retry.v, verdict::pass);
    EXPECT_EQ(retry.outcome, "enrolled");
    // A fault on GetCACert: enrolling after it is what the log shows.
    auto ra = ended(with(expectation::refuse, "getcacert-other-ra"), false);
    ra.operation = "GetCACert";
    auto went_on = watched(2);
    went_on.new_enrollments = 1;
    went_on.enrolled = true;
    classify_observed(ra, went_on);
    EXPECT_EQ(ra.v, verdict::fail);
}

TEST(ConformanceObserve, NothingSeenIsNotExercisedAndAFailedTriggerSaysSo) {
    auto quiet = ended(with(expectation::refuse), false);
    quiet.requests = quiet.fired = 0;
    classify_observed(quiet, watched(0));
    EXPECT_EQ(quiet.v, verdict::not_exercised);
    EXPECT_EQ(quiet.detail, "the fault never fired: no PKIOperation request from the device within 60 s");
    observation failed;
    failed.trigger_failed = true;
    failed.trigger_exit = 7;
    auto t = ended(with(expectation::refuse), false);
    classify_observed(t, failed);
    EXPECT_EQ(t.v, verdict::not_exercised);
    EXPECT_EQ(t.outcome, "trigger failed (exit 7)");
    // The baseline with nothing seen fails: the trigger does not make the device enroll.
    auto base = ended({"baseline", "", expectation::accept, ""}, false);
    observation none;
    none.window_seconds = 60;
    classify_observed(base, none);
    EXPECT_EQ(base.v, verdict::fail);
    EXPECT_EQ(base.outcome, "nothing seen");
    // ... and one that enrolled passes without a check.
    auto ok = ended({"baseline", "", expectation::accept, ""}, false);
    auto enrolled = watched(0);
    enrolled.enrolled = true;
    classify_observed(ok, enrolled);
    EXPECT_EQ(ok.v, verdict::pass);
}

TEST(ConformanceSubstitute, ReplacesKnownPlaceholdersOnly) {
    placeholders p{"http://127.0.0.1:1/scep", "s3cret", "/tmp/case", "conformance-x", "/tmp/ca.pem"};
    EXPECT_EQ(substitute("{dir}/key.pem", p), "/tmp/case/key.pem");
    EXPECT_EQ(substitute("-u={url}&c={challenge}", p), "-u=http://127.0.0.1:1/scep&c=s3cret");
    EXPECT_EQ(substitute("{cn}{ca}", p), "conformance-x/tmp/ca.pem");
    EXPECT_EQ(substitute("{unknown} {dir", p), "{unknown} {dir");
    EXPECT_EQ(substitute("", p), "");
}

TEST(ConformanceCases, BaselineFirstUniqueNamesValidRules) {
    auto cases = conformance_cases();
    ASSERT_FALSE(cases.empty());
    EXPECT_EQ(cases.front().name, "baseline");
    EXPECT_TRUE(cases.front().rule_json.empty());
    std::set<std::string> names;
    std::set<std::string> kinds_covered;
    for (const auto& c : cases) {
        EXPECT_TRUE(names.insert(c.name).second) << c.name;
        EXPECT_FALSE(c.why.empty()) << c.name;
        if (c.rule_json.empty()) continue;
        auto at = c.rule_json.find(R"("kind":")");
        ASSERT_NE(at, std::string::npos) << c.rule_json;
        auto kind = c.rule_json.substr(at + 8, c.rule_json.find('"', at + 8) - at - 8);
        EXPECT_TRUE(fault_kind_from_name(kind)) << c.name << ": " << kind;
        kinds_covered.insert(kind);
    }
    // Every fault kind is scored by at least one case.
    for (const auto& k : fault_kinds()) EXPECT_TRUE(kinds_covered.contains(std::string(k.name))) << k.name;
}

TEST(ConformanceReports, MarkdownAndJUnitCarryEveryCaseAndEscape) {
    std::vector<case_result> results;
    auto ok = ended({"baseline", "", expectation::accept, "good"}, true, 0);
    classify(ok);
    auto bad = ended(with(expectation::refuse, "wrong|nonce<&>"), true, 0);
    classify(bad);
    bad.detail += "; client: said \"done\"\x01";
    results = {ok, bad};
    auto md = scorecard_markdown("scepclient", "scep 2.1.0", "2026-12-01", results);
    EXPECT_NE(md.find("1 pass, 1 FAIL, 0 reported"), std::string::npos);
    EXPECT_NE(md.find("| wrong\\|nonce<&> | refuse | **FAIL** |"), std::string::npos) << md;
    auto xml = scorecard_junit("scepclient", results);
    EXPECT_NE(xml.find(R"(tests="2" failures="1")"), std::string::npos) << xml;
    EXPECT_NE(xml.find(R"(name="wrong|nonce&lt;&amp;&gt;")"), std::string::npos) << xml;
    EXPECT_NE(xml.find("&quot;done&quot;?"), std::string::npos) << xml;
    EXPECT_EQ(xml.find('\x01'), std::string::npos);
    EXPECT_EQ(xml.find("<failure"), xml.rfind("<failure"));  // one failure element
}

}  // namespace
}  // namespace scep::client
