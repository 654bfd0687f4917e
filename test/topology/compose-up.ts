// `docker compose up` and `down` for the services of one profile, each a
// Container in its namespace: a service starts once each of its depends_on
// conditions holds (service_started, service_healthy,
// service_completed_successfully); `up` fails when a dependency cannot meet
// its condition, as compose does.

import { Container } from './container.js'
import type { ServicePlan } from './compose-plan.js'
import type { Network } from './netns.js'

export class Project {
  readonly containers = new Map<string, Container>()

  constructor (readonly plans: ServicePlan[], network: Network, bins: Record<string, string>) {
    for (const plan of plans) this.containers.set(plan.name, new Container(plan, network, bins))
  }

  container (name: string): Container {
    const c = this.containers.get(name)
    if (c === undefined) throw new Error(`no service ${name} in this project`)
    return c
  }

  /** Starts every service in dependency order; resolves once all have started. */
  async up (): Promise<void> {
    const started = new Map<string, Promise<void>>()
    const healthy = new Map<string, Promise<void>>()
    const condition = async (d: ServicePlan['dependsOn'][number]): Promise<void> => {
      await started.get(d.service)
      const dep = this.container(d.service)
      if (d.condition === 'service_healthy') {
        if (!healthy.has(d.service)) {
          const p = dep.healthy()
          p.catch(() => {})
          healthy.set(d.service, p)
        }
        await healthy.get(d.service)
      } else if (d.condition === 'service_completed_successfully') {
        const exit = await dep.exited()
        if (exit !== null && exit.code !== 0) throw new Error(`${d.service} did not complete successfully: ${JSON.stringify(exit)}`)
      }
    }
    // Plans come dependencies first, so each one's dependencies are in `started`.
    for (const plan of this.plans) {
      const p = (async () => {
        await Promise.all(plan.dependsOn.map(condition))
        this.container(plan.name).start()
      })()
      p.catch(() => {})
      started.set(plan.name, p)
    }
    await Promise.all(started.values())
  }

  /** Stops every service, dependents first. */
  async down (): Promise<void> {
    for (const plan of [...this.plans].reverse()) await this.container(plan.name).stop()
  }

  /** Every service's recent output, for a failure message. */
  tails (n = 20): string {
    return [...this.containers.values()].map((c) => c.tail(n)).filter((t) => t !== '').join('\n')
  }
}
