using System.Text.Json.Nodes;
using JailWorkflows.Engine.Store;
using JailWorkflows.FreeBsd;
using JailWorkflows.Hosts;
using JailWorkflows.Plans;
using JailWorkflows.Shell;
using Microsoft.Extensions.Logging;
using WorkflowCore.Interface;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Activities;

/// <summary>What every activity needs from the engine; one instance per engine.</summary>
/// <param name="Journal">The journal.</param>
/// <param name="Hosts">Connections to jail hosts.</param>
/// <param name="Options">Engine options (poll interval).</param>
/// <param name="Time">The clock.</param>
/// <param name="LoggerFactory">Logging.</param>
/// <param name="Incidents">Incidents (steps that failed for good).</param>
public sealed record ActivityServices(Journal Journal, HostConnections Hosts, EngineOptions Options, TimeProvider Time, ILoggerFactory LoggerFactory, Incidents Incidents);

/// <summary>
/// Base of every activity (a WorkflowCore step body). A run is short (DESIGN.md D2): it decides, starts or
/// polls a host job, checkpoints its <see cref="ActivityState"/> and returns. Every activity can be run
/// again from the top with its last checkpoint after a crash at any instant, so each one probes the target
/// before acting. The base journals step started, finished and failed.
/// </summary>
public abstract class Activity : StepBodyAsync
{
    /// <summary>Creates the activity.</summary>
    /// <param name="services">Engine services.</param>
    protected Activity(ActivityServices services) => Services = services ?? throw new ArgumentNullException(nameof(services));

    /// <summary>The step id in the workflow definition (set by the engine before the run).</summary>
    public string StepId { get; set; } = string.Empty;

    /// <summary>The step's inputs from the workflow definition (already validated against the activity's input schema).</summary>
    public JsonObject Inputs { get; set; } = new();

    /// <summary>The activity names of the steps that run after this one in the workflow definition (reachable after it in its
    /// graph, not those of a parallel branch beside it), in definition order (set by the engine before the run); lets a step
    /// keep what a later step needs, e.g. <c>restoresymtable</c> for a <c>Cutover</c>.</summary>
    public IReadOnlyList<string> LaterActivities { get; set; } = [];

    /// <summary>The ids of the definition's steps by WorkflowCore step id (the definition index; set by the engine).</summary>
    internal IReadOnlyList<string> DefinitionStepIds { get; set; } = [];

    /// <summary>Engine services.</summary>
    protected ActivityServices Services { get; }

    /// <summary>The step's retry policy (set by the engine from the definition; the activity's catalog default otherwise).</summary>
    public RetryPolicy Retry { get; set; } = RetryPolicy.Default;

    /// <summary>The key of <see cref="ActivityState.Values"/> that <c>jailwf skip</c> sets (to the reason): the step ends at once, skipped.</summary>
    public const string SkipKey = "operator.skip";

    /// <summary>The key of <see cref="ActivityState.Values"/> counting the failed attempts of the step (removed by <c>jailwf retry</c>).</summary>
    public const string FailuresKey = "retry.failures";

    /// <summary>The key of <see cref="ActivityState.Values"/> holding the earliest time (UTC, ISO 8601) of the next attempt.</summary>
    public const string NotBeforeKey = "retry.notBefore";

    /// <inheritdoc />
    public sealed override async Task<ExecutionResult> RunAsync(IStepExecutionContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var first = context.PersistenceData is not ActivityState;

        // A copy: what a run changes is saved only by Sleep, Checkpoint or Fail, never as a side effect of an exception.
        var checkpoint = (context.PersistenceData as ActivityState)?.Clone() ?? new ActivityState();
        var state = checkpoint.Clone();
        var run = new ActivityRun(this, context, state);
        if (first)
        {
            await run.JournalAsync(JournalEntryKind.StepStarted, $"{context.Step.Name}").ConfigureAwait(false);
        }

        if (state.Values.TryGetValue(SkipKey, out var skipReason))
        {
            await run.JournalAsync(JournalEntryKind.StepSkipped, $"{context.Step.Name}: skipped by an operator ({skipReason})").ConfigureAwait(false);

            // The skip was saved and a crash came before its incident was closed (JailwfEngine decides in that order).
            if ((await Services.Incidents.AllOpenOfAsync(run.InstanceId, CancellationToken.None).ConfigureAwait(false)).Any(leftover => leftover.Step == StepId))
            {
                await Services.Incidents.CloseAsync(run.InstanceId, StepId, IncidentResolution.Skipped, "engine", "the operator's skip was saved before a crash; it is taken now", CancellationToken.None).ConfigureAwait(false);
            }

            // The state stays with the ended step: it tells that the step was skipped, not done.
            var skipped = ExecutionResult.Next();
            skipped.PersistenceData = state;
            return skipped;
        }

        // A backoff interrupted by an engine restart (which wakes every sleeping step at once) is waited out.
        var now = Services.Time.GetUtcNow();
        if (state.Values.TryGetValue(NotBeforeKey, out var notBeforeText)
            && DateTimeOffset.TryParse(notBeforeText, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var notBefore)
            && notBefore > now)
        {
            return ExecutionResult.Sleep(notBefore - now, state);
        }

        state.Values.Remove(NotBeforeKey);
        try
        {
            var result = await ExecuteAsync(run).ConfigureAwait(false);
            state.Values.Remove(UnreachableCount);

            // Progress (a partition, a phase done) starts the count of failed attempts afresh: each unit of work gets
            // the whole policy, while a job that keeps failing at the same place still ends as an incident.
            if (state.Phase != checkpoint.Phase || state.Index != checkpoint.Index)
            {
                state.Values.Remove(FailuresKey);
            }

            if (result.Proceed)
            {
                await run.JournalAsync(JournalEntryKind.StepFinished, $"{context.Step.Name}: done").ConfigureAwait(false);

                // An incident opened by a run that a crash cut off before the instance was suspended: the step has made it now.
                if ((await Services.Incidents.AllOpenOfAsync(run.InstanceId, CancellationToken.None).ConfigureAwait(false)).Any(leftover => leftover.Step == StepId))
                {
                    await Services.Incidents.CloseAsync(run.InstanceId, StepId, IncidentResolution.Recovered, "engine", null, CancellationToken.None).ConfigureAwait(false);
                }
            }

            return result;
        }
        catch (HostUnreachableException ex) when (!context.CancellationToken.IsCancellationRequested)
        {
            // A dropped connection or a host that is briefly away is no incident: the host job goes on there.
            // Retry with backoff (5 s, 10 s, ... capped at 5 min), and call a person only after a while.
            var count = state.Values.TryGetValue(UnreachableCount, out var text) ? int.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : 0;
            if (count >= Services.Options.UnreachableRetries)
            {
                state.Values.Remove(UnreachableCount);
                var failure = run.Fail($"{ex.Message} (still unreachable after {count} retries)");
                await OpenIncidentAsync(run, context, ex.Host, failure.Message).ConfigureAwait(false);
                throw failure;
            }

            state.Values[UnreachableCount] = (count + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            var delay = TimeSpan.FromSeconds(Math.Min(300, 5 * Math.Pow(2, count)));
            state.Values[NotBeforeKey] = (Services.Time.GetUtcNow() + delay).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            await run.JournalAsync(JournalEntryKind.Warning, $"{ex.Message}; retrying in {delay.TotalSeconds:0} s").ConfigureAwait(false);
            return ExecutionResult.Sleep(delay, state);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.CancellationToken.IsCancellationRequested)
        {
            // A failure by Fail() saved the run's state (e.g. the next attempt's job id); any other keeps the checkpoint.
            var saved = ex is ActivityFailedException or HostJobLostException ? state : checkpoint;
            var failures = (saved.Values.TryGetValue(FailuresKey, out var f) ? int.Parse(f, System.Globalization.CultureInfo.InvariantCulture) : 0) + 1;
            saved.Values[FailuresKey] = failures.ToString(System.Globalization.CultureInfo.InvariantCulture);
            context.ExecutionPointer.PersistenceData = saved;
            if (IsRetryable(ex) && failures < Retry.MaxAttempts)
            {
                var delay = Retry.DelayBefore(failures + 1);
                saved.Values[NotBeforeKey] = (Services.Time.GetUtcNow() + delay).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
                await run.JournalAsync(JournalEntryKind.Warning, $"attempt {failures} of {Retry.MaxAttempts} failed: {ex.Message}; attempt {failures + 1} in {delay.TotalSeconds:0.#} s").ConfigureAwait(false);
                return ExecutionResult.Sleep(delay, saved);
            }

            saved.Values.Remove(NotBeforeKey);
            var host = ex switch
            {
                HostKeyMismatchException k => k.Host,
                _ => run.JailHostSpec.Name,
            };
            await OpenIncidentAsync(run, context, host, IsRetryable(ex) ? $"{ex.Message} (attempt {failures} of {Retry.MaxAttempts})" : ex.Message, failures).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Whether a failure may go away by itself, so the step is tried again under its <see cref="Retry"/> policy. Never:
    /// an <see cref="ActivityFailedException"/> not marked retryable (a check that failed, a dump that is not
    /// snapshot-consistent, conflict markers…), a lost host job (the host rebooted: a person looks first), a host key
    /// mismatch, and bad input (an invalid plan or argument).
    /// </summary>
    /// <param name="exception">The failure.</param>
    /// <returns>True when it is retried.</returns>
    public static bool IsRetryable(Exception exception) => exception switch
    {
        ActivityFailedException failed => failed.Retryable,
        HostJobLostException or HostKeyMismatchException or PlanValidationException or ArgumentException => false,
        _ => true,
    };

    private async Task OpenIncidentAsync(ActivityRun run, IStepExecutionContext context, string host, string error, int? attempts = null)
    {
        await run.JournalAsync(JournalEntryKind.StepFailed, error).ConfigureAwait(false);

        // A parallel branch that failed before this one in the same pass keeps its incident: each waits for its own decision.
        var failing = context.Workflow.ExecutionPointers
            .Where(p => p.Id != context.ExecutionPointer.Id && p.Active && p.Status == PointerStatus.Failed)
            .Where(p => p.StepId < DefinitionStepIds.Count)
            .Select(p => DefinitionStepIds[p.StepId])
            .ToList();
        await Services.Incidents.OpenAsync(
            new Incident
            {
                InstanceId = run.InstanceId,
                Step = StepId,
                Activity = context.Step.BodyType.Name,
                Host = host,
                Error = error,
                Attempts = attempts ?? 1,
            },
            failing,
            CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Does one short piece of the activity's work.</summary>
    /// <param name="run">This run: plan, server, jail root, jail host, checkpoint, journal.</param>
    /// <returns><see cref="ExecutionResult.Next"/> when done; <see cref="ActivityRun.Sleep"/> or <see cref="ActivityRun.Checkpoint"/> to continue later.</returns>
    protected abstract Task<ExecutionResult> ExecuteAsync(ActivityRun run);

    private const string UnreachableCount = "unreachable";

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> StartGates = new(StringComparer.Ordinal);

    /// <summary>One run of an activity: what it works on and the tools to checkpoint, journal and run host jobs.</summary>
    public sealed class ActivityRun
    {
        private readonly Activity _activity;
        private readonly IStepExecutionContext _context;

        internal ActivityRun(Activity activity, IStepExecutionContext context, ActivityState state)
        {
            _activity = activity;
            _context = context;
            State = state;
            Data = (ConsolidationData)context.Workflow.Data;
            JailHostSpec = Data.Plan.JailHost;
        }

        /// <summary>The workflow instance id.</summary>
        public string InstanceId => _context.Workflow.Id;

        /// <summary>The step id from the definition.</summary>
        public string StepId => _activity.StepId;

        /// <summary>The step's inputs.</summary>
        public JsonObject Inputs => _activity.Inputs;

        /// <summary>The activity names of the later steps of the definition (see <see cref="Activity.LaterActivities"/>).</summary>
        public IReadOnlyList<string> LaterActivities => _activity.LaterActivities;

        /// <summary>The instance data.</summary>
        public ConsolidationData Data { get; }

        /// <summary>The source server being consolidated.</summary>
        /// <exception cref="ActivityFailedException">The instance works on the jail host, not on a server's jail (a jail host definition).</exception>
        public SourceServerSpec Server => _server ??= Data.Server.Length > 0
            ? Data.Plan.Server(Data.Server)
            : throw new ActivityFailedException($"Step {StepId} needs a server's jail, but instance {InstanceId} works on the jail host {JailHostSpec.Name} (a jail host definition); move the step to a server definition.");

        /// <summary>The jail host.</summary>
        public JailHostSpec JailHostSpec { get; }

        /// <summary>The validated jail root of this server's jail.</summary>
        /// <exception cref="ActivityFailedException">The instance works on the jail host (see <see cref="Server"/>).</exception>
        public JailRoot JailRoot => _jailRoot ??= JailRoot.Create(JailHostSpec.JailsDir, Server.Jail.Name);

        private SourceServerSpec? _server;

        private JailRoot? _jailRoot;

        /// <summary>The checkpoint; change it, then return <see cref="Checkpoint"/> or <see cref="Sleep"/>.</summary>
        public ActivityState State { get; }

        /// <summary>Cancellation (engine stopping).</summary>
        public CancellationToken CancellationToken => _context.CancellationToken;

        /// <summary>Engine services.</summary>
        public ActivityServices Services => _activity.Services;

        /// <summary>Per-jail state directory on the jail host (outside the jail root): markers, backups.</summary>
        public string JailStateDir => JailRoot.ValidateDirectory(JailHostSpec.StateDir, "jailHost.stateDir") + "/jails/" + Server.Jail.Name;

        /// <summary>The jail host's connection.</summary>
        /// <returns>The host.</returns>
        public Task<Host> JailHostAsync() => Services.Hosts.GetJailHostAsync(JailHostSpec, CancellationToken);

        /// <summary>The jail host's job runner.</summary>
        /// <returns>Host jobs in <c>jailHost.jobsDir</c>.</returns>
        public async Task<HostJobs> JobsAsync() => new(await JailHostAsync().ConfigureAwait(false), JailHostSpec.JobsDir);

        /// <summary>Checkpoints the state and runs again at once.</summary>
        /// <returns>The result to return from the step.</returns>
        public ExecutionResult Checkpoint() => ExecutionResult.Persist(State);

        /// <summary>Checkpoints the state and runs again after the poll interval.</summary>
        /// <returns>The result to return from the step.</returns>
        public ExecutionResult Sleep() => ExecutionResult.Sleep(Services.Options.JobPollInterval, State);

        /// <summary>
        /// Checkpoints the current state into the execution pointer and returns the exception to throw: the
        /// instance is suspended as an incident with this state, so <c>jailwf resume</c> continues from it (for
        /// example with the next attempt) instead of meeting the same failed job again.
        /// </summary>
        /// <param name="message">What failed, naming the host, partition or file.</param>
        /// <param name="retryable">Whether trying again may help (a host job that failed, e.g. on a dropped connection), so the
        /// step's retry policy applies; false (the default) for failures that need a person.</param>
        /// <returns>The exception; throw it.</returns>
        public ActivityFailedException Fail(string message, bool retryable = false)
        {
            _context.ExecutionPointer.PersistenceData = State;
            return new ActivityFailedException(message, retryable);
        }

        /// <summary>Runs a short command on the jail host.</summary>
        /// <param name="command">The command.</param>
        /// <returns>Its result.</returns>
        public async Task<CommandResult> RunAsync(ShellCommand command)
        {
            var host = await JailHostAsync().ConfigureAwait(false);
            return await host.RunAsync(command, null, CancellationToken).ConfigureAwait(false);
        }

        /// <summary>Runs a short command on the jail host and fails when it exits non-zero.</summary>
        /// <param name="command">The command.</param>
        /// <returns>Its standard output.</returns>
        public async Task<string> RunCheckedAsync(ShellCommand command)
        {
            var host = await JailHostAsync().ConfigureAwait(false);
            return await host.RunCheckedAsync(command, CancellationToken).ConfigureAwait(false);
        }

        /// <summary>
        /// Fails the step (an incident) when the jail root or a component of one of the paths below it is a symbolic
        /// link (<see cref="JailRoot.RefuseSymlinks"/>): the restored tree is not trusted, and following a link would
        /// act on the jail host's own files.
        /// </summary>
        /// <param name="relatives">Paths inside the jail root the step is about to read or change.</param>
        /// <returns>A task.</returns>
        /// <exception cref="ActivityFailedException">A symbolic link was found.</exception>
        public async Task RequireNoSymlinksAsync(params string[] relatives)
        {
            var result = await RunAsync(JailRoot.RefuseSymlinks(relatives)).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                throw Fail($"{result.StdOut.Trim()} {result.StdErr.Trim()}".Trim() + "; nothing was changed: replace the link inside the jail root by hand, then resume");
            }
        }

        /// <summary>Whether a path exists on the jail host (<c>test -e</c>).</summary>
        /// <param name="path">The path.</param>
        /// <returns>True when it exists.</returns>
        public async Task<bool> ExistsAsync(string path) => (await RunAsync(ShellCommand.Of("test", "-e", path)).ConfigureAwait(false)).Succeeded;

        /// <summary>Appends to the journal of this instance.</summary>
        /// <param name="kind">Entry kind.</param>
        /// <param name="message">Text.</param>
        /// <param name="jobId">Host job, if any.</param>
        /// <param name="exitStatus">Exit status, if any.</param>
        /// <returns>A task.</returns>
        public Task JournalAsync(JournalEntryKind kind, string message, string? jobId = null, int? exitStatus = null) =>
            Services.Journal.AppendAsync(
                new JournalEntry
                {
                    InstanceId = InstanceId,
                    Step = StepId,
                    Kind = kind,
                    Message = message,
                    JobId = jobId,
                    ExitStatus = exitStatus,
                },
                CancellationToken);

        /// <summary>
        /// Starts the host job <paramref name="jobId"/> (or re-attaches to it when it already exists), journals
        /// its new output lines, and tells whether it has ended. Deterministic job ids make this idempotent:
        /// after a crash the same id is polled, never started twice.
        /// </summary>
        /// <param name="jobId">The job id.</param>
        /// <param name="script">The job's command.</param>
        /// <param name="observeLines">Called once per call (one poll of the job, however many output chunks it read) with the
        /// complete output lines read (after they were journaled), e.g. to journal dump(8)'s progress; null for none.</param>
        /// <param name="watchdog">A no-output watchdog: when the running job has printed nothing (not a byte) for this
        /// long, it is killed (<see cref="HostJobs.KillAsync"/>) and the step fails as an incident naming the watchdog;
        /// resume starts a new attempt. Null for none. Measured between polls of this engine.</param>
        /// <returns>The exit status when the job ended; null while it runs (return <see cref="Sleep"/>).</returns>
        /// <exception cref="HostJobLostException">The job has neither a live process nor an exit status (host rebooted, job
        /// killed); the checkpoint then holds the next attempt, so resume starts the job anew instead of meeting the lost one.</exception>
        /// <exception cref="ActivityFailedException">The watchdog killed the job.</exception>
        public async Task<int?> RunJobAsync(string jobId, ShellCommand script, Func<IReadOnlyList<string>, Task>? observeLines = null, TimeSpan? watchdog = null)
        {
            var jobs = await JobsAsync().ConfigureAwait(false);
            var now = Services.Time.GetUtcNow();
            if (State.JobId != jobId)
            {
                // Instances of one engine may share a job (one world for many jails): probe and start under a
                // lock per job, so two steps never both see "not started" and start it twice.
                var gate = StartGates.GetOrAdd(JailHostSpec.JobsDir + "/" + jobId, _ => new SemaphoreSlim(1, 1));
                await gate.WaitAsync(CancellationToken).ConfigureAwait(false);
                try
                {
                    var before = await jobs.PollAsync(jobId, 0, CancellationToken).ConfigureAwait(false);
                    if (before.Status == HostJobStatus.NotStarted)
                    {
                        // Journal first: a crash between the two leaves the entry and no job, and the rerun starts
                        // it without a second entry, so the journal holds exactly one start per job this instance began.
                        if (!await Services.Journal.HasJobEntryAsync(InstanceId, jobId, JournalEntryKind.JobStarted, CancellationToken).ConfigureAwait(false))
                        {
                            await JournalAsync(JournalEntryKind.JobStarted, $"host job {jobId} started on {JailHostSpec.Name}", jobId).ConfigureAwait(false);
                        }

                        await jobs.StartAsync(jobId, script, CancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await JournalAsync(JournalEntryKind.Info, $"attached to host job {jobId} ({before.Status.ToString().ToLowerInvariant()})", jobId).ConfigureAwait(false);
                    }
                }
                finally
                {
                    gate.Release();
                }

                State.JobId = jobId;
                State.OutputOffset = 0;
                State.Values[LastOutputKey] = now.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
                State.Values[OutputSeenKey] = "0";
            }

            HostJobState poll;
            byte[] tail = [];
            var observed = new List<string>();
            var sawOutput = false;
            var seen = State.Values.TryGetValue(OutputSeenKey, out var seenText) && long.TryParse(seenText, System.Globalization.CultureInfo.InvariantCulture, out var seenValue) ? seenValue : 0;
            do
            {
                poll = await jobs.PollAsync(jobId, State.OutputOffset, CancellationToken).ConfigureAwait(false);

                // New bytes only: an unfinished last line (a prompt) is read again by every poll until its newline comes.
                if (poll.OutputOffset > seen)
                {
                    sawOutput = true;
                    seen = poll.OutputOffset;
                    State.Values[OutputSeenKey] = seen.ToString(System.Globalization.CultureInfo.InvariantCulture);
                }

                var lines = CompleteLines(poll.NewOutput, out var consumed);
                if (consumed == 0 && poll.MoreOutput)
                {
                    // A whole chunk without a newline (\r progress, binary): journal it as one line and move on.
                    lines = [System.Text.Encoding.UTF8.GetString(poll.NewOutput).Replace('\r', ' ').Trim()];
                    consumed = poll.NewOutput.Length;
                }

                tail = poll.MoreOutput ? [] : poll.NewOutput[consumed..];
                if (lines.Count > 0)
                {
                    await Services.Journal.AppendJobOutputAsync(InstanceId, StepId, jobId, lines, CancellationToken).ConfigureAwait(false);
                    observed.AddRange(lines);
                }

                State.OutputOffset += consumed;
                if (poll.IsFinished && !poll.MoreOutput && consumed < poll.NewOutput.Length)
                {
                    // The last line of a finished job may lack its newline.
                    var rest = System.Text.Encoding.UTF8.GetString(poll.NewOutput, consumed, poll.NewOutput.Length - consumed).Trim();
                    if (rest.Length > 0)
                    {
                        await Services.Journal.AppendJobOutputAsync(InstanceId, StepId, jobId, [rest], CancellationToken).ConfigureAwait(false);
                        observed.Add(rest);
                    }

                    State.OutputOffset += poll.NewOutput.Length - consumed;
                }
            }
            while (poll.MoreOutput);

            if (observeLines is not null && observed.Count > 0)
            {
                await observeLines(observed).ConfigureAwait(false);
            }

            switch (poll.Status)
            {
                case HostJobStatus.Exited:
                    // Once per job: a crash after this entry and before the step's checkpoint meets the ended job again.
                    if (!await Services.Journal.HasJobEntryAsync(InstanceId, jobId, JournalEntryKind.JobFinished, CancellationToken).ConfigureAwait(false))
                    {
                        await JournalAsync(JournalEntryKind.JobFinished, $"host job {jobId} exited {poll.ExitStatus}", jobId, poll.ExitStatus).ConfigureAwait(false);
                    }

                    State.JobId = null;
                    State.OutputOffset = 0;
                    return poll.ExitStatus ?? -1;
                case HostJobStatus.Lost:
                    await NextAttemptAsync(jobId, "lost").ConfigureAwait(false);
                    throw new HostJobLostException(JailHostSpec.Name, jobId);
                default:
                    break;
            }

            // Any byte counts as output (a prompt has no newline); the clock runs from the last poll that saw some.
            if (sawOutput || !State.Values.TryGetValue(LastOutputKey, out var last)
                || !DateTimeOffset.TryParse(last, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var lastOutput))
            {
                State.Values[LastOutputKey] = now.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (watchdog is { } limit && now - lastOutput >= limit)
            {
                // The unfinished last line is usually the prompt it waits on: journal it, name it.
                var prompt = System.Text.Encoding.UTF8.GetString(tail).Trim();
                if (prompt.Length > 0)
                {
                    await Services.Journal.AppendJobOutputAsync(InstanceId, StepId, jobId, [prompt], CancellationToken).ConfigureAwait(false);
                }

                await jobs.KillAsync(jobId, CancellationToken).ConfigureAwait(false);
                await NextAttemptAsync(jobId, "killed by the watchdog").ConfigureAwait(false);
                throw Fail($"watchdog: host job {jobId} on {JailHostSpec.Name} printed nothing for {limit.TotalSeconds:0} s (it probably waits on a prompt{(prompt.Length > 0 ? $": '{prompt}'" : string.Empty)}); it was killed; resume runs it again");
            }

            return null;
        }

        /// <summary>
        /// The waiting step's approval: whether the event it waits for was published (<c>jailwf approve</c>) and its data.
        /// </summary>
        public bool EventPublished => _context.ExecutionPointer.EventPublished;

        /// <summary>The data of the published event the step waited for (see <see cref="EventPublished"/>), or null.</summary>
        public object? EventData => _context.ExecutionPointer.EventData;

        /// <summary>
        /// Checkpoints the state and makes the step wait for the event <paramref name="eventName"/> with key
        /// <paramref name="eventKey"/> (WorkflowCore subscription, effective now): the step runs again, with
        /// <see cref="EventPublished"/> true, once the event is published.
        /// </summary>
        /// <param name="eventName">The event name (e.g. <c>approval</c>).</param>
        /// <param name="eventKey">The event key (e.g. <c>&lt;instance&gt;:&lt;step&gt;</c>).</param>
        /// <returns>The result to return from the step.</returns>
        public ExecutionResult WaitForEvent(string eventName, string eventKey)
        {
            var result = ExecutionResult.WaitForEvent(eventName, eventKey, Services.Time.GetUtcNow().UtcDateTime);
            result.PersistenceData = State;
            return result;
        }

        private async Task NextAttemptAsync(string jobId, string why)
        {
            await JournalAsync(JournalEntryKind.Error, $"host job {jobId} {why}; the next attempt starts a new job", jobId).ConfigureAwait(false);
            State.JobId = null;
            State.OutputOffset = 0;
            State.Attempt++;
            _context.ExecutionPointer.PersistenceData = State;
        }

        /// <summary>Reads a host job's whole output (for parsing after it ended).</summary>
        /// <param name="jobId">The job.</param>
        /// <returns>The output text.</returns>
        public async Task<string> JobOutputAsync(string jobId)
        {
            var jobs = await JobsAsync().ConfigureAwait(false);
            using var all = new MemoryStream();
            HostJobState poll;
            do
            {
                poll = await jobs.PollAsync(jobId, all.Length, CancellationToken).ConfigureAwait(false);
                all.Write(poll.NewOutput);
            }
            while (poll.MoreOutput);
            return System.Text.Encoding.UTF8.GetString(all.ToArray());
        }

        private const string LastOutputKey = "job.lastOutputAt";

        private const string OutputSeenKey = "job.outputSeen";

        private static List<string> CompleteLines(byte[] output, out int consumed)
        {
            var last = Array.LastIndexOf(output, (byte)'\n');
            consumed = last + 1;
            return last < 0 ? [] : System.Text.Encoding.UTF8.GetString(output, 0, last).Split('\n').Select(l => l.TrimEnd('\r')).Where(l => !string.IsNullOrWhiteSpace(l)).ToList();
        }
    }
}

/// <summary>
/// An activity failed: unless <see cref="Retryable"/>, in a way that needs a person, so the instance is suspended with
/// an incident at once; a retryable failure is tried again under the step's <see cref="RetryPolicy"/> first.
/// </summary>
public sealed class ActivityFailedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="retryable">Whether trying again may help (a job that failed on a dropped connection); default false.</param>
    public ActivityFailedException(string message, bool retryable = false)
        : base(message) => Retryable = retryable;

    /// <summary>Whether the step is tried again by itself (see <see cref="Activity.IsRetryable"/>).</summary>
    public bool Retryable { get; }
}

/// <summary>A host job has no live process and no exit status: the host rebooted or the job was killed. Never a success.</summary>
public sealed class HostJobLostException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="host">The host.</param>
    /// <param name="jobId">The job.</param>
    public HostJobLostException(string host, string jobId)
        : base($"Host job {jobId} on {host} is lost: no process and no exit status (host rebooted or job killed).") => JobId = jobId;

    /// <summary>The job.</summary>
    public string JobId { get; }
}
