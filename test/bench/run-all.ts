/** `npm run bench`: every benchmark in test/bench, one after another (they compete for 2 cores). */
await import('./tapir.bench.js');
await import('./pursuance.bench.js');
await import('./snapshot.bench.js');
await import('./relay.bench.js');
await import('./cwtch.bench.js');
await import('./dashboard.bench.js');
await import('./node.bench.js');
await import('./startup.bench.js');
await import('./join.bench.js');
await import('./join-requests.bench.js');
await import('./links.bench.js');
await import('./link-service.bench.js');
await import('./snapshot-join.bench.js');
await import('./move.bench.js');
await import('./bucket-fetch.bench.js');
await import('./late-race.bench.js');
