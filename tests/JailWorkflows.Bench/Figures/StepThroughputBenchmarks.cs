using BenchmarkDotNet.Attributes;
using JailWorkflows.Engine;
using JailWorkflows.Engine.Activities;
using JailWorkflows.Engine.Store;
using JailWorkflows.Plans;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WorkflowCore.Interface;
using WorkflowCore.Models;
using WorkflowCore.Services;

namespace JailWorkflows.Bench.Figures;

/// <summary>
/// Trivial-step throughput through WorkflowCore (BenchmarkDotNet, in-process): one operation starts
/// <see cref="Instances"/> instances of a chain of <see cref="Steps"/> trivial steps and waits until every instance is
/// stored as complete. The baseline runs on WorkflowCore's default in-memory store, the other on our SQLite store;
/// both hosts are configured alike (the engine's poll interval and idle time, WorkflowCore's default concurrency).
/// </summary>
public class StepThroughputBenchmarks
{
    /// <summary>Trivial steps per instance.</summary>
    public const int Steps = 20;

    /// <summary>Instances per operation, started together (WorkflowCore runs up to MaxConcurrentWorkflows at once): 1 (one
    /// chain, no contention) and 10 (several instances at once, as an engine with a few consolidations has).</summary>
    [Params(1, 10)]
    public int Instances { get; set; } = 1;

    /// <summary>The id of the benchmark definition.</summary>
    public const string DefinitionId = "bench-trivial-chain";

    /// <summary>The engine's store poll interval (EngineOptions.StorePollInterval default), on both hosts.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The engine's idle time (JailwfEngine), on both hosts.</summary>
    public static readonly TimeSpan IdleTime = TimeSpan.FromMilliseconds(50);

    /// <summary>Set by the figure before BenchmarkDotNet runs (in-process, so a static reaches the benchmark): where our store's file goes.</summary>
    public static string DatabasePath { get; set; } = Path.Combine(Path.GetTempPath(), "jailwf-bench-throughput.db");

    /// <summary>Set by the figure: the plan carried as instance data (as a consolidation instance carries it).</summary>
    public static Plan? Plan { get; set; }

    private Side? _memory;
    private Side? _sqlite;

    /// <summary>Starts both hosts.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _memory = Side.Start(sqlitePath: null);
        _sqlite = Side.Start(DatabasePath);
    }

    /// <summary>Stops both hosts.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _memory?.Dispose();
        _sqlite?.Dispose();
    }

    /// <summary>WorkflowCore with its in-memory store (MemoryPersistenceProvider).</summary>
    [Benchmark(Baseline = true, Description = "in-memory store")]
    public Task InMemory() => _memory!.RunAsync(Instances);

    /// <summary>WorkflowCore with our SQLite store (SqlitePersistenceProvider, WAL).</summary>
    [Benchmark(Description = "our SQLite store")]
    public Task Sqlite() => _sqlite!.RunAsync(Instances);

    /// <summary>One WorkflowCore host with its store.</summary>
    private sealed class Side : IDisposable
    {
        private readonly ServiceProvider _provider;
        private readonly IWorkflowHost _host;
        private readonly CompletionCounter _completed;

        private Side(ServiceProvider provider, CompletionCounter completed)
        {
            _provider = provider;
            _completed = completed;
            _host = provider.GetRequiredService<IWorkflowHost>();
        }

        public static Side Start(string? sqlitePath)
        {
            var services = new ServiceCollection();
            services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
            var completed = new CompletionCounter();
            if (sqlitePath is not null)
            {
                services.AddJailwfStore(sqlitePath);
            }

            services.AddTransient<TrivialStep>();
            services.AddWorkflow(o =>
            {
                o.UsePersistence(sp => new CountingPersistence(
                    sqlitePath is null
                        ? new TransientMemoryPersistenceProvider(sp.GetRequiredService<ISingletonMemoryProvider>())
                        : sp.GetRequiredService<SqlitePersistenceProvider>(),
                    completed));
                o.UsePollInterval(PollInterval);
                o.UseIdleTime(IdleTime);

                // Both sides run WorkflowCore as the engine does (its queue, no search index): only the store differs.
                WorkQueue.Use(o);
            });
            var provider = services.BuildServiceProvider();
            var side = new Side(provider, completed);
            provider.GetRequiredService<IWorkflowRegistry>().RegisterWorkflow(TrivialChain());
            side._host.Start();
            return side;
        }

        public async Task RunAsync(int instances)
        {
            var data = new ConsolidationData { Plan = Plan ?? throw new InvalidOperationException("Plan is not set"), Server = Plan.Servers[0].Name };
            var done = _completed.Expect(instances);
            for (var i = 0; i < instances; i++)
            {
                await _host.StartWorkflow(DefinitionId, 1, data).ConfigureAwait(false);
            }

            await done.WaitAsync(TimeSpan.FromMinutes(5)).ConfigureAwait(false);
        }

        public void Dispose()
        {
            _host.Stop();
            _provider.Dispose();
        }
    }

    /// <summary>
    /// A chain of <see cref="Steps"/> trivial steps on the engine's data type, built as the engine compiles its definitions
    /// (DefinitionCompiler: one <c>WorkflowStep</c> per step, a <c>ValueOutcome</c> to the next).
    /// </summary>
    private static WorkflowDefinition TrivialChain()
    {
        var definition = new WorkflowDefinition
        {
            Id = DefinitionId,
            Version = 1,
            Description = "a chain of trivial steps",
            DataType = typeof(ConsolidationData),
            DefaultErrorBehavior = WorkflowErrorHandling.Suspend,
        };
        for (var i = 0; i < Steps; i++)
        {
            var step = new WorkflowStep<TrivialStep> { Id = i, Name = $"step {i}", ExternalId = $"step-{i}" };
            if (i + 1 < Steps)
            {
                step.Outcomes.Add(new ValueOutcome { NextStep = i + 1 });
            }

            definition.Steps.Add(step);
        }

        return definition;
    }

    /// <summary>A step that does nothing and goes on.</summary>
    private sealed class TrivialStep : StepBody
    {
        public override ExecutionResult Run(IStepExecutionContext context) => ExecutionResult.Next();
    }

    /// <summary>Counts instances stored as complete; a batch waits for its count.</summary>
    private sealed class CompletionCounter
    {
        private readonly Lock _lock = new();
        private int _remaining;
        private TaskCompletionSource? _done;

        public Task Expect(int count)
        {
            lock (_lock)
            {
                _remaining = count;
                _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                return _done.Task;
            }
        }

        public void Completed()
        {
            lock (_lock)
            {
                if (--_remaining == 0)
                {
                    _done?.TrySetResult();
                }
            }
        }
    }

    /// <summary>
    /// The store, unchanged, plus a count of instances once they are stored as complete (so an operation ends when its
    /// last write is durable, not at WorkflowCore's lifecycle event, which comes before the write).
    /// </summary>
    private sealed class CountingPersistence(IPersistenceProvider inner, CompletionCounter completed) : IPersistenceProvider
    {
        public bool SupportsScheduledCommands => inner.SupportsScheduledCommands;

        public async Task PersistWorkflow(WorkflowInstance workflow, CancellationToken cancellationToken = default)
        {
            await inner.PersistWorkflow(workflow, cancellationToken).ConfigureAwait(false);
            Count(workflow);
        }

        public async Task PersistWorkflow(WorkflowInstance workflow, List<EventSubscription> subscriptions, CancellationToken cancellationToken = default)
        {
            await inner.PersistWorkflow(workflow, subscriptions, cancellationToken).ConfigureAwait(false);
            Count(workflow);
        }

        private void Count(WorkflowInstance workflow)
        {
            if (workflow.Status == WorkflowStatus.Complete)
            {
                completed.Completed();
            }
        }

        public Task<string> CreateNewWorkflow(WorkflowInstance workflow, CancellationToken cancellationToken = default) => inner.CreateNewWorkflow(workflow, cancellationToken);

        public Task<IEnumerable<string>> GetRunnableInstances(DateTime asAt, CancellationToken cancellationToken = default) => inner.GetRunnableInstances(asAt, cancellationToken);

        [Obsolete("WorkflowCore marks it obsolete.")]
        public Task<IEnumerable<WorkflowInstance>> GetWorkflowInstances(WorkflowStatus? status, string type, DateTime? createdFrom, DateTime? createdTo, int skip, int take)
            => inner.GetWorkflowInstances(status, type, createdFrom, createdTo, skip, take);

        public Task<WorkflowInstance> GetWorkflowInstance(string Id, CancellationToken cancellationToken = default) => inner.GetWorkflowInstance(Id, cancellationToken);

        public Task<IEnumerable<WorkflowInstance>> GetWorkflowInstances(IEnumerable<string> ids, CancellationToken cancellationToken = default) => inner.GetWorkflowInstances(ids, cancellationToken);

        public Task<string> CreateEventSubscription(EventSubscription subscription, CancellationToken cancellationToken = default) => inner.CreateEventSubscription(subscription, cancellationToken);

        public Task<IEnumerable<EventSubscription>> GetSubscriptions(string eventName, string eventKey, DateTime asOf, CancellationToken cancellationToken = default) => inner.GetSubscriptions(eventName, eventKey, asOf, cancellationToken);

        public Task TerminateSubscription(string eventSubscriptionId, CancellationToken cancellationToken = default) => inner.TerminateSubscription(eventSubscriptionId, cancellationToken);

        public Task<EventSubscription> GetSubscription(string eventSubscriptionId, CancellationToken cancellationToken = default) => inner.GetSubscription(eventSubscriptionId, cancellationToken);

        public Task<EventSubscription> GetFirstOpenSubscription(string eventName, string eventKey, DateTime asOf, CancellationToken cancellationToken = default) => inner.GetFirstOpenSubscription(eventName, eventKey, asOf, cancellationToken);

        public Task<bool> SetSubscriptionToken(string eventSubscriptionId, string token, string workerId, DateTime expiry, CancellationToken cancellationToken = default) => inner.SetSubscriptionToken(eventSubscriptionId, token, workerId, expiry, cancellationToken);

        public Task ClearSubscriptionToken(string eventSubscriptionId, string token, CancellationToken cancellationToken = default) => inner.ClearSubscriptionToken(eventSubscriptionId, token, cancellationToken);

        public Task<string> CreateEvent(Event newEvent, CancellationToken cancellationToken = default) => inner.CreateEvent(newEvent, cancellationToken);

        public Task<Event> GetEvent(string id, CancellationToken cancellationToken = default) => inner.GetEvent(id, cancellationToken);

        public Task<IEnumerable<string>> GetRunnableEvents(DateTime asAt, CancellationToken cancellationToken = default) => inner.GetRunnableEvents(asAt, cancellationToken);

        public Task<IEnumerable<string>> GetEvents(string eventName, string eventKey, DateTime asOf, CancellationToken cancellationToken = default) => inner.GetEvents(eventName, eventKey, asOf, cancellationToken);

        public Task MarkEventProcessed(string id, CancellationToken cancellationToken = default) => inner.MarkEventProcessed(id, cancellationToken);

        public Task MarkEventUnprocessed(string id, CancellationToken cancellationToken = default) => inner.MarkEventUnprocessed(id, cancellationToken);

        public Task ScheduleCommand(ScheduledCommand command) => inner.ScheduleCommand(command);

        public Task ProcessCommands(DateTimeOffset asOf, Func<ScheduledCommand, Task> action, CancellationToken cancellationToken = default) => inner.ProcessCommands(asOf, action, cancellationToken);

        public Task PersistErrors(IEnumerable<ExecutionError> errors, CancellationToken cancellationToken = default) => inner.PersistErrors(errors, cancellationToken);

        public void EnsureStoreExists() => inner.EnsureStoreExists();
    }
}
