// A cluster DNS stand-in for pod tests: answers A queries for the names it holds, NXDOMAIN for
// the rest, and its records change while pods run (a Service appearing). It listens on UDP port
// 53 of an address the test owns (the host end of a pod's veth). Packets are encoded and decoded
// with dns-packet, a well-kept codec, rather than by hand.
import { createSocket } from 'node:dgram';
import packet from 'dns-packet';

export interface DnsDouble {
  /** Sets (or, with undefined, removes) the A record of a name. */
  set(name: string, address: string | undefined): void;
  close(): Promise<void>;
}

export function startDns(address: string, ttlSeconds = 1): Promise<DnsDouble> {
  const records = new Map<string, string>();
  const socket = createSocket('udp4');
  socket.on('message', (message, peer) => {
    let query: packet.Packet;
    try {
      query = packet.decode(message);
    } catch {
      return; // not DNS: ignore, as a server would
    }
    const question = query.questions?.[0];
    const found = question?.type === 'A' ? records.get(question.name.toLowerCase()) : undefined;
    const known = question !== undefined && records.has(question.name.toLowerCase());
    const answer = packet.encode({
      id: query.id,
      type: 'response',
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (known ? 0 : 3), // rcode 3: NXDOMAIN
      questions: query.questions ?? [],
      answers:
        found === undefined || question === undefined
          ? []
          : [{ type: 'A', name: question.name, ttl: ttlSeconds, class: 'IN', data: found }],
    });
    socket.send(answer, peer.port, peer.address);
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(53, address, () =>
      resolve({
        set: (name, value) => {
          if (value === undefined) records.delete(name.toLowerCase());
          else records.set(name.toLowerCase(), value);
        },
        close: () => new Promise((done) => socket.close(() => done())),
      }),
    );
  });
}
