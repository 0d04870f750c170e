// Command cryptoclient is a grpc-go client of crypto.CryptoService doing what the service's
// Python quick start does: GetCoin BTC, the top 10 coins, user 1's portfolio, then three live
// prices from StreamPrices.
//
//	cryptoclient [ADDRESS]    (default: $CRYPTO_ADDRESS, else localhost:50051)
//
// Every call sends $CRYPTO_TOKEN, when set, as `authorization: Bearer <token>` (`crypto token
// --user 1` prints one). A server on the same machine takes wallet calls without a token
// unless it requires auth. A failed call prints one line to stderr and exits 1.
package main

//go:generate protoc -I ../../proto --go_out=. --go-grpc_out=. --go_opt=module=example.com/cryptoclient --go-grpc_opt=module=example.com/cryptoclient --go_opt=Mcrypto_service.proto=example.com/cryptoclient/cryptopb --go-grpc_opt=Mcrypto_service.proto=example.com/cryptoclient/cryptopb crypto_service.proto

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "example.com/cryptoclient/cryptopb"
)

const (
	defaultAddress  = "localhost:50051"
	callTimeout     = 10 * time.Second
	portfolioUser   = 1
	streamedUpdates = 3
)

func main() {
	address := os.Getenv("CRYPTO_ADDRESS")
	if len(os.Args) > 1 {
		address = os.Args[1]
	}
	if address == "" {
		address = defaultAddress
	}
	if err := run(address, os.Getenv("CRYPTO_TOKEN")); err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func run(address, token string) error {
	// grpc.Dial and WithInsecure (plaintext) are in every grpc-go release this builds with;
	// grpc.NewClient and credentials/insecure, their successors, are not in Debian's 1.33.
	conn, err := grpc.Dial(address, grpc.WithInsecure())
	if err != nil {
		return err
	}
	defer conn.Close()
	client := pb.NewCryptoServiceClient(conn)

	ctx := context.Background()
	if token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	if err := showCoins(ctx, client); err != nil {
		return err
	}
	if err := showPortfolio(ctx, client, portfolioUser); err != nil {
		return err
	}
	return showPrices(ctx, client, []string{"BTC", "ETH"}, streamedUpdates)
}

// Decimals (prices, amounts, percentages) are strings on the wire, printed as they come:
// parsing them into float64 would round money.
func showCoins(ctx context.Context, client pb.CryptoServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()

	// symbol is one member of the oneof `identifier` (id, symbol, slug).
	btc, err := client.GetCoin(ctx, &pb.GetCoinRequest{
		Identifier: &pb.GetCoinRequest_Symbol{Symbol: "BTC"},
	})
	if err != nil {
		return rpcError("GetCoin", err)
	}
	fmt.Printf("BTC Price: $%s\n", btc.GetCoin().GetCurrentPriceUsd())

	top, err := client.GetTopCoins(ctx, &pb.GetTopCoinsRequest{Limit: 10})
	if err != nil {
		return rpcError("GetTopCoins", err)
	}
	for _, coin := range top.GetCoins() {
		fmt.Printf("#%d %s: $%s\n", coin.GetRank(), coin.GetSymbol(), coin.GetCurrentPriceUsd())
	}
	return nil
}

func showPortfolio(ctx context.Context, client pb.CryptoServiceClient, userID int32) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()

	portfolio, err := client.GetPortfolio(ctx, &pb.GetPortfolioRequest{UserId: userID})
	if err != nil {
		return rpcError("GetPortfolio", err)
	}
	fmt.Printf("Portfolio of user %d: $%s\n", userID, portfolio.GetTotalValueUsd())
	for _, holding := range portfolio.GetHoldings() {
		fmt.Printf("  %s %s = $%s (%s%%)\n", holding.GetSymbol(), holding.GetBalance(),
			holding.GetValueUsd(), holding.GetPercentage())
	}
	return nil
}

// showPrices prints the first `count` updates, then cancels the call: the stream itself never
// ends (the server sends every symbol at once, then again every interval).
func showPrices(ctx context.Context, client pb.CryptoServiceClient, symbols []string, count int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // tells the server to stop sending

	stream, err := client.StreamPrices(ctx, &pb.StreamPricesRequest{
		Symbols: symbols, IntervalSeconds: 1,
	})
	if err != nil {
		return rpcError("StreamPrices", err)
	}
	for received := 0; received < count; received++ {
		update, err := stream.Recv()
		if err == io.EOF {
			return nil // the server ended the stream
		}
		if err != nil {
			return rpcError("StreamPrices", err)
		}
		fmt.Printf("%s: $%s (%s%%)\n", update.GetSymbol(), update.GetPriceUsd(),
			update.GetChange_24HPercent())
	}
	return nil
}

// rpcError names the call and its gRPC status: "GetCoin: NotFound: coin BTC not found".
func rpcError(rpc string, err error) error {
	s := status.Convert(err)
	return fmt.Errorf("%s: %s: %s", rpc, s.Code(), s.Message())
}
