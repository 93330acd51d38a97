import Synchronization

/// Buckets of one policy, one per key, shared by every worker.
///
/// Thread-safety: `Sendable`; every method may be called from any thread. The keys are split
/// across a power-of-two number of shards by their hash, each shard behind its own `Mutex`, so
/// workers serving different keys rarely meet and there is no global lock. One key always maps
/// to one shard, so the limit a client sees does not multiply with the number of workers.
///
/// Memory: at most `maxKeys` buckets (split evenly across shards, so eviction is per shard: the
/// longest idle key *of its shard* goes). Each shard keeps an intrusive LRU list, so a take is
/// O(1) amortized, insertion and eviction included. Evicting a bucket that is not yet full
/// hands that key a fresh burst when it returns: the price of bounded memory.
public final class RateLimitTable: Sendable {
    public let shape: BucketShape
    public let maxKeys: Int
    private let shards: [Shard]
    private let shardShift: UInt64

    /// `shardCount` is rounded up to a power of two and lowered so that each shard holds at least
    /// one key.
    public init(shape: BucketShape, maxKeys: Int, shardCount: Int = 16) {
        self.shape = shape
        self.maxKeys = max(1, maxKeys)
        var n = 1
        while n < shardCount { n <<= 1 }
        while n > 1 && n > self.maxKeys { n >>= 1 }
        var bits: UInt64 = 0
        while (1 << bits) < n { bits += 1 }
        shardShift = 64 - bits
        let base = self.maxKeys / n, extra = self.maxKeys % n
        shards = (0..<n).map { Shard(capacity: base + ($0 < extra ? 1 : 0)) }
    }

    public convenience init(_ policy: RateLimitPolicy, shardCount: Int = 16) {
        self.init(shape: BucketShape(policy), maxKeys: policy.maxKeys, shardCount: shardCount)
    }

    public var shardCount: Int { shards.count }

    @inline(__always)
    private func shard(for key: RateLimitKey) -> Shard {
        // Top bits pick the shard (the dictionary inside rehashes the whole key).
        shards[shardShift == 64 ? 0 : Int(truncatingIfNeeded: key.hash >> shardShift)]
    }

    /// Takes one token from `key`'s bucket at `now` (monotonic ns); an unknown key starts full.
    public func take(_ key: RateLimitKey, now: UInt64) -> TokenBucket.Decision {
        let shape = self.shape
        return shard(for: key).state.withLock { $0.take(key.hash, shape: shape, now: now) }
    }

    /// Buckets held now (never more than `maxKeys`).
    public var count: Int {
        shards.reduce(0) { total, s in total + s.state.withLock { $0.index.count } }
    }

    /// Whether `key` currently has a bucket (evicted and never-seen keys have none).
    public func contains(_ key: RateLimitKey) -> Bool {
        shard(for: key).state.withLock { $0.index[key.hash] != nil }
    }
}

private final class Shard: Sendable {
    let state: Mutex<ShardState>
    init(capacity: Int) { state = Mutex(ShardState(capacity: capacity)) }
}

/// One shard: slots in an array, a dictionary from key to slot, and a doubly linked list of
/// slots from most (head) to least (tail) recently used.
private struct ShardState: ~Copyable {
    struct Slot {
        var key: UInt64
        var bucket: BucketState
        var prev: Int32
        var next: Int32
    }

    let capacity: Int
    var index: [UInt64: Int32] = [:]
    var slots: [Slot] = []
    var head: Int32 = -1
    var tail: Int32 = -1

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    mutating func take(_ key: UInt64, shape: BucketShape, now: UInt64) -> TokenBucket.Decision {
        if let i = index[key] {
            moveToHead(i)
            return shape.take(&slots[Int(i)].bucket, now: now)
        }
        var bucket = shape.fullState(now: now)
        let decision = shape.take(&bucket, now: now)
        if slots.count < capacity {
            let i = Int32(slots.count)
            slots.append(Slot(key: key, bucket: bucket, prev: -1, next: -1))
            index[key] = i
            linkAtHead(i)
        } else {
            // Reuse the longest idle slot.
            let i = tail
            unlink(i)
            index.removeValue(forKey: slots[Int(i)].key)
            slots[Int(i)].key = key
            slots[Int(i)].bucket = bucket
            index[key] = i
            linkAtHead(i)
        }
        return decision
    }

    private mutating func moveToHead(_ i: Int32) {
        guard head != i else { return }
        unlink(i)
        linkAtHead(i)
    }

    private mutating func unlink(_ i: Int32) {
        let p = slots[Int(i)].prev, n = slots[Int(i)].next
        if p >= 0 { slots[Int(p)].next = n } else { head = n }
        if n >= 0 { slots[Int(n)].prev = p } else { tail = p }
        slots[Int(i)].prev = -1
        slots[Int(i)].next = -1
    }

    private mutating func linkAtHead(_ i: Int32) {
        slots[Int(i)].next = head
        slots[Int(i)].prev = -1
        if head >= 0 { slots[Int(head)].prev = i }
        head = i
        if tail < 0 { tail = i }
    }
}
