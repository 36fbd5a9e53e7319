using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using WorkflowCore.Interface;

namespace JailWorkflows.Engine.Store;

/// <summary>Registers the engine's SQLite store.</summary>
public static class StoreServiceCollectionExtensions
{
    /// <summary>
    /// Registers the store on one SQLite file: a pooled <c>IDbContextFactory&lt;JailwfDbContext&gt;</c>,
    /// <see cref="SqlitePersistenceProvider"/> (singleton, also as WorkflowCore's <see cref="IPersistenceProvider"/>),
    /// <see cref="Journal"/>, <see cref="Incidents"/>, <see cref="DefinitionVersionStore"/> and <see cref="TimeProvider.System"/> unless a
    /// <see cref="TimeProvider"/> is registered already. Creates the file's directory if needed; the file and its
    /// schema are created by <see cref="SqlitePersistenceProvider.EnsureStoreExists"/>, which WorkflowCore's host
    /// calls on start. Hand the provider to WorkflowCore with
    /// <c>services.AddWorkflow(o =&gt; o.UsePersistence(sp =&gt; sp.GetRequiredService&lt;SqlitePersistenceProvider&gt;()))</c>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="databasePath">Path of the SQLite file (relative paths are taken from the current directory).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentException"><paramref name="databasePath"/> is empty.</exception>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    public static IServiceCollection AddJailwfStore(this IServiceCollection services, string databasePath)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        var fullPath = Path.GetFullPath(databasePath);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        var connectionString = ConnectionString(fullPath);

        services.AddPooledDbContextFactory<JailwfDbContext>(o => Configure(o, connectionString));
        services.TryAddSingleton(TimeProvider.System);
        services.AddLogging();
        services.AddSingleton<SqlitePersistenceProvider>();
        services.AddSingleton<IPersistenceProvider>(sp => sp.GetRequiredService<SqlitePersistenceProvider>());
        services.AddSingleton<Journal>();
        services.AddSingleton<Incidents>();
        services.AddSingleton<DefinitionVersionStore>();
        return services;
    }

    /// <summary>The connection string the store uses for <paramref name="fullPath"/> (pooled, read-write-create, foreign keys on).</summary>
    internal static string ConnectionString(string fullPath) => new SqliteConnectionStringBuilder
    {
        DataSource = fullPath,
        Mode = SqliteOpenMode.ReadWriteCreate,
        Cache = SqliteCacheMode.Private,
        Pooling = true,
        ForeignKeys = true,
        DefaultTimeout = 30,
    }.ToString();

    /// <summary>
    /// Configures EF Core for the store: SQLite, the connection pragmas, no tracking by default, and each executed
    /// SQL command logged at Debug rather than Information (a journal line per output line would flood the log).
    /// </summary>
    internal static DbContextOptionsBuilder Configure(DbContextOptionsBuilder options, string connectionString)
        => options
            .UseSqlite(connectionString)
            .AddInterceptors(SqliteConnectionSetup.Instance)
            .UseQueryTrackingBehavior(QueryTrackingBehavior.NoTracking)
            .ConfigureWarnings(w => w.Log((RelationalEventId.CommandExecuted, LogLevel.Debug)));
}
