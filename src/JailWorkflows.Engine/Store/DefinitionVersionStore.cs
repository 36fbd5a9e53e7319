using Microsoft.EntityFrameworkCore;
using WorkflowCore.Models;

namespace JailWorkflows.Engine.Store;

/// <summary>
/// Keeps every workflow definition version that was registered, so that the engine can register again,
/// before the WorkflowCore host starts, each version that live instances are pinned to.
/// Thread-safe; register once (singleton).
/// </summary>
/// <param name="contexts">Creates the short-lived contexts.</param>
/// <param name="timeProvider">Supplies <see cref="DefinitionVersion.RegisteredAt"/>.</param>
public sealed class DefinitionVersionStore(IDbContextFactory<JailwfDbContext> contexts, TimeProvider timeProvider)
{
    /// <summary>Stores a definition version. Storing the same document again does nothing.</summary>
    /// <param name="definitionId">The workflow definition id.</param>
    /// <param name="version">The version.</param>
    /// <param name="json">The definition document.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>True when stored now, false when the identical version was stored before.</returns>
    /// <exception cref="InvalidOperationException">That version is stored with a different document: versions are immutable.</exception>
    public async Task<bool> AddAsync(string definitionId, int version, string json, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(definitionId);
        ArgumentNullException.ThrowIfNull(json);
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            var inserted = await db.Database.ExecuteSqlAsync(
                $"""
                INSERT INTO "DefinitionVersions" ("DefinitionId", "Version", "Json", "RegisteredAt")
                VALUES ({definitionId}, {version}, {json}, {timeProvider.GetUtcNow().UtcDateTime})
                ON CONFLICT ("DefinitionId", "Version") DO NOTHING
                """,
                cancellationToken).ConfigureAwait(false);
            if (inserted == 1)
            {
                return true;
            }

            var stored = await db.DefinitionVersions
                .Where(x => x.DefinitionId == definitionId && x.Version == version)
                .Select(x => x.Json)
                .SingleAsync(cancellationToken)
                .ConfigureAwait(false);
            return stored == json
                ? false
                : throw new InvalidOperationException($"Workflow definition '{definitionId}' version {version} is stored with a different document; a version never changes once registered.");
        }
    }

    /// <summary>One stored version, or null.</summary>
    /// <param name="definitionId">The workflow definition id.</param>
    /// <param name="version">The version.</param>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The version or null.</returns>
    public async Task<DefinitionVersion?> GetAsync(string definitionId, int version, CancellationToken cancellationToken)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.DefinitionVersions.AsNoTracking()
                .SingleOrDefaultAsync(x => x.DefinitionId == definitionId && x.Version == version, cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>All stored versions, by definition id then version.</summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The versions.</returns>
    public async Task<IReadOnlyList<DefinitionVersion>> ListAsync(CancellationToken cancellationToken)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.DefinitionVersions.AsNoTracking()
                .OrderBy(x => x.DefinitionId).ThenBy(x => x.Version)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The stored versions that at least one <see cref="WorkflowStatus.Runnable"/> or <see cref="WorkflowStatus.Suspended"/>
    /// instance is pinned to: the ones to register with WorkflowCore before the host starts.
    /// </summary>
    /// <param name="cancellationToken">Cancellation.</param>
    /// <returns>The versions, by definition id then version.</returns>
    public async Task<IReadOnlyList<DefinitionVersion>> ListInUseAsync(CancellationToken cancellationToken)
    {
        var db = await contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await using (db.ConfigureAwait(false))
        {
            return await db.DefinitionVersions.AsNoTracking()
                .Where(d => db.WorkflowInstances.Any(i =>
                    i.WorkflowDefinitionId == d.DefinitionId && i.Version == d.Version
                    && (i.Status == WorkflowStatus.Runnable || i.Status == WorkflowStatus.Suspended)))
                .OrderBy(x => x.DefinitionId).ThenBy(x => x.Version)
                .ToListAsync(cancellationToken)
                .ConfigureAwait(false);
        }
    }
}
