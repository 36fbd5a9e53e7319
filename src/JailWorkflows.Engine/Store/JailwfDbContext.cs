using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// The EF Core context of the engine's one SQLite file: WorkflowCore's state (instances with their
/// execution pointers, event subscriptions, events, scheduled commands, execution errors), the
/// <see cref="JournalEntries">journal</see> and the <see cref="DefinitionVersions">registered definition versions</see>.
/// </summary>
/// <remarks>
/// Every <see cref="DateTime"/> is stored as UTC and read back with <see cref="DateTimeKind.Utc"/>;
/// a value of <see cref="DateTimeKind.Local"/> is converted, one of <see cref="DateTimeKind.Unspecified"/>
/// is taken to be UTC already. Enums are stored by name. The schema is created and upgraded by the EF Core
/// migrations in <c>Store/Migrations</c> (<see cref="SqlitePersistenceProvider.EnsureStoreExists"/>).
/// Obtain instances from the <c>IDbContextFactory&lt;JailwfDbContext&gt;</c> registered by
/// <see cref="StoreServiceCollectionExtensions.AddJailwfStore"/>; a context is short-lived and not thread-safe.
/// </remarks>
/// <param name="options">Options with the SQLite provider configured.</param>
public sealed class JailwfDbContext(DbContextOptions<JailwfDbContext> options) : DbContext(options)
{
    /// <summary>The journal: append-only, one row per thing that happened to an instance.</summary>
    public DbSet<JournalEntry> JournalEntries => Set<JournalEntry>();

    /// <summary>Registered workflow definition versions, key (<see cref="DefinitionVersion.DefinitionId"/>, <see cref="DefinitionVersion.Version"/>).</summary>
    public DbSet<DefinitionVersion> DefinitionVersions => Set<DefinitionVersion>();

    /// <summary>Incidents: steps that failed for good and wait for a decision, open and closed.</summary>
    public DbSet<Incident> Incidents => Set<Incident>();

    internal DbSet<WorkflowInstanceRow> WorkflowInstances => Set<WorkflowInstanceRow>();

    internal DbSet<ExecutionPointerRow> ExecutionPointers => Set<ExecutionPointerRow>();

    internal DbSet<EventSubscriptionRow> EventSubscriptions => Set<EventSubscriptionRow>();

    internal DbSet<EventRow> Events => Set<EventRow>();

    internal DbSet<ScheduledCommandRow> ScheduledCommands => Set<ScheduledCommandRow>();

    internal DbSet<ExecutionErrorRow> ExecutionErrors => Set<ExecutionErrorRow>();

    /// <inheritdoc />
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        ArgumentNullException.ThrowIfNull(configurationBuilder);
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<WorkflowStatus>().HaveConversion<string>();
        configurationBuilder.Properties<PointerStatus>().HaveConversion<string>();
        configurationBuilder.Properties<JournalEntryKind>().HaveConversion<string>();
        configurationBuilder.Properties<IncidentResolution>().HaveConversion<string>();
    }

    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);

        modelBuilder.Entity<WorkflowInstanceRow>(e =>
        {
            e.ToTable("WorkflowInstances");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.Status, x.NextExecution });
            e.HasIndex(x => new { x.WorkflowDefinitionId, x.Version });
            e.HasIndex(x => x.CreateTime);
            e.HasMany(x => x.ExecutionPointers).WithOne().HasForeignKey(p => p.InstanceId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<ExecutionPointerRow>(e =>
        {
            e.ToTable("ExecutionPointers");
            e.HasKey(x => new { x.InstanceId, x.Id });
        });

        modelBuilder.Entity<EventSubscriptionRow>(e =>
        {
            e.ToTable("EventSubscriptions");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.EventName, x.EventKey });
            e.HasIndex(x => x.WorkflowId);
        });

        modelBuilder.Entity<EventRow>(e =>
        {
            e.ToTable("Events");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.EventName, x.EventKey, x.EventTime });
            e.HasIndex(x => new { x.IsProcessed, x.EventTime });
        });

        modelBuilder.Entity<ScheduledCommandRow>(e =>
        {
            e.ToTable("ScheduledCommands");
            e.HasKey(x => x.Id);
            e.HasIndex(x => new { x.CommandName, x.Data }).IsUnique();
            e.HasIndex(x => x.ExecuteTime);
        });

        modelBuilder.Entity<ExecutionErrorRow>(e =>
        {
            e.ToTable("ExecutionErrors");
            e.HasKey(x => x.Id);
            e.HasIndex(x => x.WorkflowId);
        });

        modelBuilder.Entity<JournalEntry>(e =>
        {
            e.ToTable("JournalEntries");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedOnAdd();
            e.HasIndex(x => new { x.InstanceId, x.Id });
        });

        modelBuilder.Entity<Incident>(e =>
        {
            e.ToTable("Incidents");
            e.HasKey(x => x.Id);
            e.Property(x => x.Id).ValueGeneratedOnAdd();
            e.HasIndex(x => new { x.InstanceId, x.ClosedAt });
        });

        modelBuilder.Entity<DefinitionVersion>(e =>
        {
            e.ToTable("DefinitionVersions");
            e.HasKey(x => new { x.DefinitionId, x.Version });
        });
    }

    /// <summary>Converts any <see cref="DateTime"/> to UTC on the way in and marks it <see cref="DateTimeKind.Utc"/> on the way out.</summary>
    internal sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(v => UtcTime.ToUtc(v), v => DateTime.SpecifyKind(v, DateTimeKind.Utc));
}

/// <summary>UTC normalisation used by the store.</summary>
internal static class UtcTime
{
    /// <summary>Local times are converted; unspecified ones are taken as UTC already.</summary>
    public static DateTime ToUtc(DateTime value) => value.Kind switch
    {
        DateTimeKind.Utc => value,
        DateTimeKind.Local => value.ToUniversalTime(),
        _ => DateTime.SpecifyKind(value, DateTimeKind.Utc),
    };

    /// <summary>Nullable form of <see cref="ToUtc(DateTime)"/>.</summary>
    public static DateTime? ToUtc(DateTime? value) => value is { } v ? ToUtc(v) : null;
}
