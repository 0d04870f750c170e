#!/usr/bin/env node
// A Node.js client of crypto.CryptoService, straight from proto/crypto_service.proto:
// GetCoin, GetTopCoins, then a few StreamPrices updates.
//
//   npm ci && node client.js [ADDRESS]      (default: $CRYPTO_ADDRESS, else localhost:50051)
//
// TLS, from the same environment variables as the `crypto` command: CRYPTO_TLS_CA (the CA
// to verify the server with; implies TLS), CRYPTO_CLIENT_TLS_CERT and CRYPTO_CLIENT_TLS_KEY
// (a client certificate, for servers that require one), or CRYPTO_TLS=1 (TLS, verified
// against the system's CAs).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.join(__dirname, '..', '..', 'proto', 'crypto_service.proto');
const STREAMED_UPDATES = 4;
const DEADLINE_MS = 10000;

// Field names as the proto spells them (protobufjs's own camelCase would turn volume_24h_usd
// into volume_24hUsd). Decimals are strings on the wire: print them as they come, never
// through Number.
const definition = protoLoader.loadSync(PROTO, {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const { CryptoService } = grpc.loadPackageDefinition(definition).crypto;

function readIf(file) {
  return file ? fs.readFileSync(file) : null;
}

function credentials(env) {
  const ca = readIf(env.CRYPTO_TLS_CA);
  const cert = readIf(env.CRYPTO_CLIENT_TLS_CERT);
  const key = readIf(env.CRYPTO_CLIENT_TLS_KEY);
  const tls = ['1', 'true', 'yes', 'on'].includes((env.CRYPTO_TLS || '').toLowerCase());
  if (!(tls || ca || cert || key)) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(ca, key, cert);
}

function deadline() {
  return { deadline: Date.now() + DEADLINE_MS };
}

function unary(client, method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, deadline(), (error, response) => (error ? reject(error) : resolve(response)));
  });
}

// Resolves after `count` updates (then cancels the call) or when the server ends the stream.
function streamPrices(client, symbols, count) {
  return new Promise((resolve, reject) => {
    const call = client.StreamPrices({ symbols, interval_seconds: 1 });
    let received = 0;
    call.on('data', (update) => {
      console.log(`stream ${update.symbol}: $${update.price_usd} (${update.change_24h_percent}%)`);
      received += 1;
      if (received === count) call.cancel();
    });
    call.on('error', (error) => (error.code === grpc.status.CANCELLED ? resolve(received) : reject(error)));
    call.on('end', () => resolve(received));
  });
}

async function main() {
  const address = process.argv[2] || process.env.CRYPTO_ADDRESS || 'localhost:50051';
  const client = new CryptoService(address, credentials(process.env));
  try {
    const { coin } = await unary(client, 'GetCoin', { symbol: 'BTC' });
    console.log(`BTC Price: $${coin.current_price_usd} (24h volume $${coin.volume_24h_usd})`);

    const top = await unary(client, 'GetTopCoins', { limit: 5 });
    for (const c of top.coins) console.log(`#${c.rank} ${c.symbol}: $${c.current_price_usd}`);

    try {
      await streamPrices(client, ['BTC', 'ETH'], STREAMED_UPDATES);
    } catch (error) {
      if (error.code !== grpc.status.UNIMPLEMENTED) throw error;
      console.log('StreamPrices: not offered by this server yet (UNIMPLEMENTED)');
    }
  } finally {
    client.close();
  }
}

main().catch((error) => {
  const status = Object.keys(grpc.status).find((name) => grpc.status[name] === error.code);
  console.error(`error: ${status || 'UNKNOWN'}: ${error.details || error.message}`);
  process.exit(1);
});
