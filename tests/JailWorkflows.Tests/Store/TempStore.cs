using JailWorkflows.Engine.Store;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace JailWorkflows.Tests.Store;

/// <summary>A real SQLite store file in a fresh temporary directory, migrated, with a fake clock.</summary>
internal sealed class TempStore : IDisposable
{
    private readonly List<ServiceProvider> _services = [];

    public TempStore()
    {
        Directory = Path.Combine(Path.GetTempPath(), "jailwf-store-" + Guid.NewGuid().ToString("N"));
        DatabasePath = Path.Combine(Directory, "sub", "engine.db");
        Clock = new FakeTimeProvider(new DateTimeOffset(2025, 3, 14, 2, 0, 0, TimeSpan.Zero));
        Services = Open();
        Provider.EnsureStoreExists();
    }

    public string Directory { get; }

    public string DatabasePath { get; }

    public FakeTimeProvider Clock { get; }

    public ServiceProvider Services { get; }

    public SqlitePersistenceProvider Provider => Services.GetRequiredService<SqlitePersistenceProvider>();

    public Journal Journal => Services.GetRequiredService<Journal>();

    public DefinitionVersionStore Definitions => Services.GetRequiredService<DefinitionVersionStore>();

    /// <summary>A second, independent service provider on the same file (as a restarted engine would have).</summary>
    public ServiceProvider Open(Action<IServiceCollection>? configure = null)
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(Clock);
        services.AddJailwfStore(DatabasePath);
        configure?.Invoke(services);
        var provider = services.BuildServiceProvider();
        _services.Add(provider);
        return provider;
    }

    /// <summary>A plain connection on the file, without the store's interceptor.</summary>
    public SqliteConnection RawConnection()
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    public void Dispose()
    {
        foreach (var provider in _services)
        {
            provider.Dispose();
        }

        using (var connection = new SqliteConnection(StoreServiceCollectionExtensions.ConnectionString(DatabasePath)))
        {
            SqliteConnection.ClearPool(connection);
        }

        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a leftover temp directory must not fail a test.
        }
    }
}
